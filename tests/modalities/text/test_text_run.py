"""Text runs end to end: the run folder keeps the tokenizer, a resume on texts that train another
tokenizer is refused with the run left as it was, and a run on a built-in embeds other files
without the built-in's own options getting in the way."""

from __future__ import annotations

import json

import numpy as np
import pytest

import selfsup
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.builtins import FORTUNES_DIR

WORDS = "red green blue cat dog bird sun moon star tree rock river".split()


def _lines(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=rng.integers(3, 9))) for _ in range(n)]


def _run(out, data, **extra):
    overrides = ["encoder.name=bert", "encoder.size=tiny", "encoder.depth=1", "encoder.dim=32", "encoder.heads=2",
                 "data.options.vocab_size=60", "eval.every_n_epochs=0", "eval.random_init=false"]
    extra.setdefault("epochs", 1)
    return selfsup.pretrain(method="simcse", data=data, modality="text", batch_size=16, out=str(out),
                            progress=False, overrides=overrides + extra.pop("overrides", []), **extra)


def test_resume_on_texts_that_train_another_tokenizer_is_refused_and_the_run_kept(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(_lines(80)))
    run = tmp_path / "run"
    _run(run, str(texts))
    saved = (run / "tokenizer.json").read_text()
    assert json.loads(saved)["model"]["type"] == "BPE"
    weights = (run / "encoder.safetensors").read_bytes()

    texts.write_text("\n".join(_lines(80, seed=1) + ["entirely other vocabulary words here"] * 20))
    with pytest.raises(SelfsupError, match=r"tokenizer of .*texts.txt differs from .*tokenizer.json"):
        _run(run, str(texts), resume=True, epochs=2)
    assert (run / "tokenizer.json").read_text() == saved
    assert (run / "encoder.safetensors").read_bytes() == weights


def test_bert_runs_record_the_embedding_norm_and_runs_from_before_it_still_load(tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(_lines(60)))
    new = tmp_path / "new"
    _run(new, str(texts))
    assert json.loads((new / "encoder.json").read_text())["kwargs"]["embed_norm"] is True
    assert "embed_norm.weight" in selfsup.load(new).state_dict()

    # a run saved before bert had the option: its encoder.json does not name it, its weights lack it
    old = tmp_path / "old"
    _run(old, str(texts), overrides=["encoder.embed_norm=false"])
    description = json.loads((old / "encoder.json").read_text())
    del description["kwargs"]["embed_norm"]
    (old / "encoder.json").write_text(json.dumps(description))
    emb = selfsup.load(old).embed(str(texts))
    assert emb.shape == (60, 32) and np.isfinite(emb).all()


@pytest.mark.skipif(not (FORTUNES_DIR / "fortunes").is_file(), reason="needs Debian's fortunes packages")
def test_a_run_on_a_builtin_embeds_a_text_file_with_its_own_tokenizer(tmp_path):
    run = tmp_path / "run"
    _run(run, "fortunes", overrides=["data.options.limit=300"])
    other = tmp_path / "mine.txt"
    other.write_text("a fortune of my own\nand another one\n")
    emb = selfsup.load(run).embed(str(other))  # fortunes' limit is no option of the file reader
    assert emb.shape == (2, 32) and np.isfinite(emb).all()
