"""Text data: readers of every format, the tokenizer trained on the training split, the fixed
special ids, the flat store's batches, truncation, in-memory texts, and every bad-input error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

pytest.importorskip("tokenizers")

from selfsup.data import load_data
from selfsup.errors import SelfsupError
from selfsup.modalities.text.data.batch import CLS, PAD, SEP, SPECIAL_TOKENS, TextSpec
from selfsup.modalities.text.data.dataset import TextStore, collate_text
from selfsup.modalities.text.data.readers import read_text, read_text_object
from selfsup.modalities.text.data.source import text_source
from selfsup.modalities.text.data.tokenizer import train_tokenizer

WORDS = ["cat", "dog", "bird", "fish", "tree", "house", "river", "stone", "cloud", "light"]


def sentences(n: int, offset: int = 0) -> list[str]:
    return [f"the {WORDS[(i + offset) % 10]} sees a {WORDS[(3 * i + 1) % 10]} near the {WORDS[(7 * i) % 10]}"
            for i in range(n)]


def labeled(n: int = 60) -> tuple[list[str], list[str]]:
    texts = sentences(n)
    return texts, ["odd" if i % 2 else "even" for i in range(n)]


def test_txt_file_one_sample_a_line_skips_and_counts_empty_lines(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("first text\n\nsecond text\n   \nthird one\n", encoding="utf-8")
    source = read_text(path, vocab_size=100)
    assert source.n_train == 3 and source.test is None and not source.labeled
    assert source.texts_train == ["first text", "second text", "third one"]
    assert any("2 empty text(s) skipped (line 2 of texts.txt, line 4 of texts.txt)" in n for n in source.notes)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".parquet"])
def test_table_column_and_target(tmp_path, suffix):
    texts, labels = labeled()
    frame = pd.DataFrame({"id": range(len(texts)), "sentence": texts, "label": labels})
    path = tmp_path / f"data{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_parquet(path)
    source = read_text(path, column="sentence", target="label", vocab_size=100)
    assert source.n_train + source.n_test == len(texts) and source.class_names == ["even", "odd"]
    assert sorted(source.texts_train + source.texts_test) == sorted(texts)
    # the split is stratified: both classes in both splits
    assert set(source.y_test.tolist()) == {0, 1} and set(source.y_train.tolist()) == {0, 1}


def test_csv_text_column_defaults_to_text(tmp_path):
    path = tmp_path / "data.csv"
    pd.DataFrame({"text": ["one text", "NA", "null"], "n": [1, 2, 3]}).to_csv(path, index=False)
    source = read_text(path, vocab_size=50)
    assert source.texts_train == ["one text", "NA", "null"]  # NA markers are text here


def test_folder_with_class_subfolders(tmp_path):
    for label in ("sport", "weather"):
        (tmp_path / label).mkdir()
        for i in range(6):
            (tmp_path / label / f"{i}.txt").write_text(f"{label} news number {i}\n", encoding="utf-8")
    source = read_text(tmp_path, vocab_size=60, test_fraction=0.5)
    assert source.class_names == ["sport", "weather"] and source.n_train + source.n_test == 12
    unlabeled = tmp_path / "sport"
    assert read_text(unlabeled, vocab_size=60).n_train == 6


def test_in_memory_list_pair_and_dataframe():
    texts, labels = labeled(40)
    assert read_text_object(texts, vocab_size=80).n_train == 40
    pair = read_text_object((texts, labels), vocab_size=80)
    assert pair.class_names == ["even", "odd"] and pair.n_test > 0
    frame = read_text_object(pd.DataFrame({"body": texts, "y": labels}), column="body", target="y", vocab_size=80)
    assert frame.n_train + frame.n_test == 40
    assert read_text_object(torch.zeros(3, 4)) is None  # not text: left to the generic path
    with pytest.raises(SelfsupError, match="Unknown option 'vocab'"):
        read_text_object(texts, vocab=10)
    # a run's embed: its built-in's options (bible_verses' target, limit) do not apply to new texts
    run = read_text_object(texts, vocab_size=80, max_length=16)
    again = read_text_object(texts[:5], target="genre", limit=100, input_spec=run.input_spec)
    assert again.n_train == 5 and again.input_spec == run.input_spec


def test_special_tokens_at_fixed_ids_and_batches_are_cls_tokens_sep_pad():
    tokenizer = train_tokenizer(sentences(50), vocab_size=80)
    assert [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3, 4]
    source = text_source(["a cat", "the dog sees a bird near the house"] + sentences(30), vocab_size=80)
    batch = collate_text(source.train.__getitems__([0, 1]))
    x = batch["x"]
    assert x.ids.dtype == torch.long and x.ids.shape[0] == 2 and batch["index"].tolist() == [0, 1]
    short, long = x.lengths.tolist()
    assert x.ids.shape[1] == long and x.ids[:, 0].tolist() == [CLS, CLS]
    assert x.ids[0, short - 1] == SEP and (x.ids[0, short:] == PAD).all() and x.ids[1, long - 1] == SEP
    assert (x.ids[x.mask][1:-1] >= TextSpec.first_regular_id).sum() > 0
    # a list of single items (a plain DataLoader) pads to the same batch
    items = collate_text([source.train[0], source.train[1]])
    assert torch.equal(items["x"].ids, x.ids) and torch.equal(items["x"].lengths, x.lengths)


def test_tokenizer_is_trained_on_the_training_split_only():
    texts, labels = labeled(60)
    texts[1] = "zebraquagga zebraquagga zebraquagga " + texts[1]
    # in the training split, the frequent word becomes one token
    in_train = text_source(texts, labels, vocab_size=200, split=(list(range(60)), []))
    assert "▁zebraquagga" in json.loads(in_train.input_spec.tokenizer)["model"]["vocab"]
    # in the test split only, it is not in the vocabulary: it is encoded as pieces
    split = text_source(texts, labels, vocab_size=200, split=(list(range(2, 60)), [0, 1]))
    assert not any("zebraquagga" in t for t in json.loads(split.input_spec.tokenizer)["model"]["vocab"])
    test_ids = split.test.__getitems__([1])["x"]
    assert int(test_ids.lengths[0]) > len(texts[1].split()) + 2


def test_bpe_training_is_reproducible_and_decodes_the_text():
    texts = sentences(200) + ["Zebras, quaggas and okapis!"] * 3
    tokenizers = {train_tokenizer(texts, vocab_size=120).to_str() for _ in range(3)}
    assert len(tokenizers) == 1  # (WordPiece's trainer is not: tokenizers issue 1794)
    tokenizer = train_tokenizer(texts, vocab_size=120)
    encoding = tokenizer.encode("Zebras,   quaggas and okapis!", add_special_tokens=False)
    assert tokenizer.decode(encoding.ids) == "zebras, quaggas and okapis!"


def test_wordpiece_and_user_tokenizer(tmp_path):
    texts = sentences(40)
    source = text_source(texts, tokenizer_type="wordpiece", vocab_size=90)
    assert json.loads(source.input_spec.tokenizer)["model"]["type"] == "WordPiece"
    assert any("tokenizers issue 1794" in note for note in source.notes)
    path = tmp_path / "tokenizer.json"
    path.write_text(source.input_spec.tokenizer, encoding="utf-8")
    again = text_source(sentences(10, 3), tokenizer=str(path))
    assert again.input_spec.tokenizer == source.input_spec.tokenizer
    assert source.run_files() == {"tokenizer.json": source.input_spec.tokenizer}


def test_run_spec_tokenizer_encodes_as_in_training():
    source = text_source(sentences(40), vocab_size=90, max_length=16)
    spec = TextSpec.from_dict(json.loads(json.dumps(source.input_spec.to_dict())))
    again = text_source(sentences(40), vocab_size=500, max_length=64, input_spec=spec)
    assert again.input_spec == source.input_spec
    assert torch.equal(again.train.store.tokens, source.train.store.tokens)


def test_truncation_is_said_once_with_the_count():
    texts = sentences(20) + [" ".join(WORDS * 5)] * 3
    source = text_source(texts, vocab_size=100, max_length=16)
    notes = [n for n in source.notes if "longer than max_length=16" in n]
    assert len(notes) == 1 and notes[0].startswith("3 of 23 texts")
    assert int(source.train.store.lengths.max()) == 16


def test_store_batch_matches_pack():
    from selfsup.modalities.text.data.batch import pack

    store = TextStore.from_lists([[7, 8, 9], [10], []])
    batch = store.batch(torch.tensor([2, 0, 1]))
    expected = pack([[CLS, SEP], [CLS, 7, 8, 9, SEP], [CLS, 10, SEP]])
    assert torch.equal(batch.ids, expected.ids) and torch.equal(batch.lengths, expected.lengths)
    assert store.tokens.dtype == torch.int32


def test_resuming_with_another_tokenizer_is_one_clear_error(tmp_path):
    from selfsup.modalities.text.data.source import check_resumed_tokenizer

    source = text_source(sentences(40), vocab_size=90)
    check_resumed_tokenizer(source, tmp_path)  # no tokenizer.json there: nothing to compare
    (tmp_path / "tokenizer.json").write_text(source.input_spec.tokenizer, encoding="utf-8")
    check_resumed_tokenizer(text_source(sentences(40), vocab_size=90), tmp_path)  # retrained: the same
    with pytest.raises(SelfsupError, match=r"differs from .*tokenizer.json \(\d+ ids there, \d+ now\)"):
        check_resumed_tokenizer(text_source(sentences(40, 5) + ["new words here"] * 3, vocab_size=60), tmp_path)


def test_in_memory_texts_are_inferred_and_described():
    from selfsup.data.objects import describe, infer_modality

    assert infer_modality(["a text", "another"], None) == "text"
    assert infer_modality((["a text", "another"], [0, 1]), None) == "text"
    assert describe(["a text", "another"]).startswith("in-memory texts [2] sha1:")
    assert describe((["a text", "another"], [0, 1])) != describe((["a text", "another"], [1, 0]))


def test_sample_text_and_describe():
    long = "word " * 100
    source = text_source([long] + sentences(10), vocab_size=60)
    assert len(source.sample_text(False, 0)) == 120 and source.sample_text(False, 0).endswith("…")
    assert source.sample_text(True, 0) is None
    described = source.describe()
    assert described["modality"] == "text" and described["tokenizer"].startswith("tokenizer.json (")


def test_load_data_reads_with_the_text_modality(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("\n".join(sentences(12)), encoding="utf-8")
    assert load_data(str(path), modality="text", vocab_size=60).n_train == 12
    with pytest.raises(SelfsupError, match="Unknown option 'colum'"):
        load_data(str(path), modality="text", colum="x")


# ---------------------------------------------------------------- bad input: one SelfsupError each


def test_not_utf8_names_file_and_byte_offset(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("caf\u00e9\n".encode("utf-8") + "na\u00efve\n".encode("latin-1"))
    with pytest.raises(SelfsupError, match=r"latin.txt is not UTF-8 text: byte 0xef at byte offset 8 \(line 2\)"):
        read_text(path)
    csv = tmp_path / "latin.csv"
    csv.write_bytes(b"text\n" + "na\u00efve".encode("latin-1"))
    with pytest.raises(SelfsupError, match="latin.csv is not UTF-8 text: byte 0xef at byte offset 7"):
        read_text(csv)


def test_missing_text_column_lists_the_columns(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"body": ["a b"], "label": ["x"], "n": [1]}).to_csv(path, index=False)
    with pytest.raises(SelfsupError, match="column='txt' is not a column of .*: body, label, n"):
        read_text(path, column="txt")
    with pytest.raises(SelfsupError, match="Which column .* holds the text.*body, label, n"):
        read_text(path)
    with pytest.raises(SelfsupError, match="target='y' is not a column of .*: body, label, n"):
        read_text(path, column="body", target="y")


def test_invalid_tokenizer_files(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(SelfsupError, match="broken.json is not valid JSON"):
        text_source(sentences(5), tokenizer=str(broken))
    other = tmp_path / "other.json"
    other.write_text('{"version": "1.0", "model": {"type": "Nope"}}', encoding="utf-8")
    with pytest.raises(SelfsupError, match="other.json is not a tokenizer.json that Hugging Face tokenizers can read"):
        text_source(sentences(5), tokenizer=str(other))
    with pytest.raises(SelfsupError, match="is not a file"):
        text_source(sentences(5), tokenizer=str(tmp_path / "absent.json"))


def test_tokenizer_without_the_fixed_special_ids(tmp_path):
    from tokenizers import Tokenizer, models

    bert_like = Tokenizer(models.WordLevel({"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, "hello": 5},
                                           unk_token="[UNK]"))
    path = tmp_path / "bert.json"
    bert_like.save(str(path))
    with pytest.raises(SelfsupError, match=r"\[UNK\] is id 100; \[CLS\] is id 101; \[SEP\] is id 102; \[MASK\] is missing"):
        text_source(sentences(5), tokenizer=str(path))


def test_empty_data_and_empty_training_split(tmp_path):
    path = tmp_path / "blank.txt"
    path.write_text("\n  \n\n", encoding="utf-8")
    with pytest.raises(SelfsupError, match="has no text"):
        read_text(path)
    with pytest.raises(SelfsupError, match="training split of texts has no text"):
        text_source(["a b", "c d"], split=([], [0, 1]))


def test_bad_options_and_labels(tmp_path):
    with pytest.raises(SelfsupError, match="tokenizer_type is one of bpe, wordpiece"):
        text_source(sentences(5), tokenizer_type="unigram")
    with pytest.raises(SelfsupError, match="vocab_size must be a whole number above 5"):
        text_source(sentences(5), vocab_size=3)
    with pytest.raises(SelfsupError, match="max_length must be a whole number of at least 3"):
        text_source(sentences(5), max_length=2)
    with pytest.raises(SelfsupError, match="text 1 of texts has no label"):
        text_source(["a", "b"], ["x", None])
    with pytest.raises(SelfsupError, match="text 1 of texts is a int, not a string"):
        text_source(["a", 3])
    path = tmp_path / "t.txt"
    path.write_text("a\n", encoding="utf-8")
    with pytest.raises(SelfsupError, match="no columns, so data.options.target does not apply"):
        read_text(path, target="label")
    with pytest.raises(SelfsupError, match="reads .txt, .text, .csv"):
        read_text(tmp_path / "x.docx")
    csv = tmp_path / "nums.csv"
    pd.DataFrame({"text": ["a", "b"], "label": ["x", ""]}).to_csv(csv, index=False)
    with pytest.raises(SelfsupError, match="line 3 of nums.csv has no label"):
        read_text(csv, target="label")
