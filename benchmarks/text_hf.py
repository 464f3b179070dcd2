"""Text, selfsup side by side with Hugging Face, each for the same wall-clock budget on this CPU.

    /work/hf-venv/bin/python benchmarks/text_hf.py run --data fortunes --method mlm --budget 300
    /work/hf-venv/bin/python benchmarks/text_hf.py run --data bible_verses --method simcse --budget 300
    /work/hf-venv/bin/python benchmarks/text_hf.py table          # Markdown for RESULTS.md

``transformers`` and ``sentence-transformers`` are benchmark-only dependencies, never library ones:
they live in their own virtual environment, which reuses the project's torch and selfsup
(``python3 -m venv /work/hf-venv``; a ``.pth`` file there runs ``site.addsitedir(<.venv's
site-packages>)``; then ``/work/hf-venv/bin/pip install transformers sentence-transformers``).

What is held equal:

- **data and tokenizer**: the selfsup source of ``--data`` (its seeded train / test split) and the
  BPE tokenizer selfsup trains on the train split (``tokenizer.json`` of the selfsup run, loaded by
  Hugging Face as a ``PreTrainedTokenizerFast``); the same ``max_length``.
- **model size**: BERT-mini (Turc et al. 2019: 4 layers, width 256, 4 heads, MLP 1,024), dropout
  0.1, learned positions; selfsup's ``bert`` is pre-norm, Hugging Face's ``BertModel`` post-norm
  (each library's own architecture).
- **batch, optimiser, schedule**: batch 64, AdamW (lr 5e-4, weight decay 0.01), linear warm-up
  over the first 6 % of the steps then decay; the number of steps is what fits the budget —
  selfsup plans it with ``train.time_budget``; the Hugging Face side times its first steps the
  same way and sets ``max_steps`` so training ends within the budget.
- **evaluation**: both encoders embed with mean pooling over the non-padding tokens, through
  selfsup's own evaluation (``evaluate_encoder``: kNN and linear probes, and on ``bible_verses``
  the KJV ↔ WEB verse retrieval); the Hugging Face model is wrapped as an encoder of selfsup
  batches, so both read exactly the same token ids.

The peers' recipes:

- **MLM**: ``BertForMaskedLM`` with ``DataCollatorForLanguageModeling`` (15 %, 80/10/10) in a
  plain PyTorch loop (the fastest way to drive it; ``Trainer`` only adds overhead).
- **SimCSE**: ``sentence-transformers``' documented unsupervised recipe — a ``Transformer`` +
  mean ``Pooling`` model, each sentence paired with itself, ``MultipleNegativesRankingLoss``
  (scale 20 = temperature 0.05, in-batch negatives) — trained with ``SentenceTransformerTrainer``.

``tokens_per_s`` = non-padding tokens of the training texts consumed / training seconds, each text
counted once whatever the number of views the method encodes (SimCSE encodes every text twice on
both sides); the clock runs from the first training step to the last (data reading, tokenizer
training and evaluation excluded).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import torch
from torch import nn

RESULTS = Path(__file__).with_name("text_hf_results.jsonl")
SIZE = {"hidden": 256, "layers": 4, "heads": 4}
BATCH, LR, WEIGHT_DECAY, WARMUP = 64, 5e-4, 0.01, 0.06


def selfsup_side(data: str, method: str, budget: float, seed: int, out: Path, options: list[str]) -> dict[str, Any]:
    """Train selfsup's ``method`` for ``budget`` seconds; the run folder and its figures."""
    import selfsup

    # warm-up: 6 % of the planned steps, as the peers' (the budget keeps warmup_epochs / epochs)
    overrides = [f"train.time_budget={budget}", f"train.batch_size={BATCH}", f"train.lr={LR}",
                 f"train.lr_reference_batch={BATCH}", f"train.weight_decay={WEIGHT_DECAY}", "train.epochs=100",
                 f"train.warmup_epochs={100 * WARMUP:g}", "encoder.name=bert", "encoder.size=mini",
                 "encoder.pooling=mean", "eval.random_init=false", "eval.raw_input=false", *options]
    result = selfsup.pretrain(method=method, data=data, modality="text", out=str(out), overwrite=True,
                              progress=False, seed=seed, overrides=overrides)
    metrics = json.loads((out / "metrics.json").read_text())
    return {"run": str(out), "metrics": metrics, "encoder": result.encoder}


def hf_tokenizer(run: Path) -> Any:
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_file=str(run / "tokenizer.json"), pad_token="[PAD]",
                                   unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")


def bert_config(vocab_size: int, max_length: int) -> Any:
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, hidden_size=SIZE["hidden"], num_hidden_layers=SIZE["layers"],
                      num_attention_heads=SIZE["heads"], intermediate_size=4 * SIZE["hidden"],
                      max_position_embeddings=max_length, pad_token_id=0)


def train_rows(source: Any) -> list[list[int]]:
    """Every training text's token ids (``[CLS] … [SEP]``, no padding), as selfsup reads them."""
    rows = []
    for start in range(0, len(source.train), 1024):
        x = source.train.__getitems__(list(range(start, min(start + 1024, len(source.train)))))["x"]
        rows += [ids[:length].tolist() for ids, length in zip(x.ids, x.lengths)]
    return rows


def schedule(step: int, steps: int) -> float:
    warm = max(1, int(WARMUP * steps))
    return (step + 1) / warm if step < warm else max(0.0, (steps - step) / max(1, steps - warm))


def hf_mlm(source: Any, tokenizer: Any, budget: float, seed: int) -> dict[str, Any]:
    """``BertForMaskedLM`` + ``DataCollatorForLanguageModeling`` in a plain loop for ``budget`` s."""
    from transformers import BertForMaskedLM, DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    model = BertForMaskedLM(bert_config(source.input_spec.vocab_size, source.input_spec.max_length))
    collator = DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)
    rows = train_rows(source)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    tokens = step = 0
    steps = None  # planned after the first 10 steps, as selfsup's time budget does
    model.train()
    start = time.perf_counter()
    while steps is None or step < steps:
        if len(order) < BATCH:
            order = torch.randperm(len(rows), generator=generator).tolist()
        batch_rows, order = [rows[i] for i in order[:BATCH]], order[BATCH:]
        batch = collator([{"input_ids": r} for r in batch_rows])
        for group in optimizer.param_groups:
            group["lr"] = LR * (schedule(step, steps) if steps else min(1.0, (step + 1) / 100))
        loss = model(**batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tokens += int(batch["attention_mask"].sum())
        step += 1
        if steps is None and step == 10:
            steps = max(step + 1, int(budget / ((time.perf_counter() - start) / step)))
    seconds = time.perf_counter() - start
    return {"encoder": HFEncoder(model.bert), "steps": step, "train_seconds": seconds,
            "tokens_per_s": tokens / seconds, "last_loss": float(loss)}


def hf_simcse(source: Any, tokenizer: Any, texts: list[str], budget: float, seed: int) -> dict[str, Any]:
    """sentence-transformers' unsupervised SimCSE recipe for ``budget`` seconds."""
    from datasets import Dataset
    from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from sentence_transformers.sentence_transformer.training_args import (
        SentenceTransformerTrainingArguments,
    )
    from transformers import BertModel, TrainerCallback

    torch.manual_seed(seed)
    folder = Path(tempfile.mkdtemp(prefix="hf_simcse_"))
    try:
        BertModel(bert_config(source.input_spec.vocab_size, source.input_spec.max_length),
                  add_pooling_layer=False).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        model = SentenceTransformer(modules=[Transformer(str(folder), max_seq_length=source.input_spec.max_length),
                                             Pooling(SIZE["hidden"], "mean")], device="cpu")
        pairs = Dataset.from_dict({"anchor": texts, "positive": texts})

        class Clock(TrainerCallback):
            """Plans max_steps from the first 10 steps' time, as selfsup's time budget does."""

            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == 0:
                    self.start = time.perf_counter()

            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == 10:
                    per_step = (time.perf_counter() - self.start) / 10
                    state.max_steps = max(11, int(budget / per_step))
                if time.perf_counter() - self.start > budget * 1.02:
                    control.should_training_stop = True

        loss = MultipleNegativesRankingLoss(model, scale=20.0)
        args = SentenceTransformerTrainingArguments(
            output_dir=str(folder / "out"), per_device_train_batch_size=BATCH, learning_rate=LR,
            weight_decay=WEIGHT_DECAY, warmup_steps=WARMUP, max_steps=10_000_000, save_strategy="no",
            report_to=[], logging_steps=50, seed=seed, use_cpu=True, dataloader_drop_last=True,
            lr_scheduler_type="linear")
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=pairs, loss=loss,
                                             callbacks=[Clock()])
        started = time.perf_counter()
        state = trainer.train()
        seconds = time.perf_counter() - started
        steps = int(state.global_step)
        lengths = [len(r) for r in train_rows(source)]
        tokens = steps * BATCH * (sum(lengths) / len(lengths))
        return {"encoder": HFEncoder(model[0].auto_model), "steps": steps, "train_seconds": seconds,
                "tokens_per_s": tokens / seconds, "last_loss": float(state.training_loss)}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class HFEncoder(nn.Module):
    """A Hugging Face ``BertModel`` as a selfsup text encoder: ``TextBatch -> [B, D]``, mean pooling
    over the non-padding tokens (what both sides are evaluated with)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.output_dim = int(bert.config.hidden_size)

    def forward(self, x: Any) -> torch.Tensor:
        mask = x.mask
        states = self.bert(input_ids=x.ids, attention_mask=mask.long()).last_hidden_state
        weights = mask.float()[..., None]
        return (states * weights).sum(1) / weights.sum(1).clamp_min(1.0)


def evaluate(encoder: nn.Module, source: Any, seed: int) -> dict[str, float]:
    from selfsup.config import EvalConfig
    from selfsup.engine.evaluation import evaluate_encoder

    encoder.eval()
    scores, _ = evaluate_encoder(encoder, source, None, EvalConfig(), seed)
    keep = ("knn_acc", "linear_acc", "rankme")
    return {k: round(float(v), 4) for k, v in scores.items() if k in keep or k.startswith("verse_")}


def run(data: str, method: str, budget: float, seed: int, options: list[str]) -> dict[str, Any]:
    from selfsup.data import load_data
    from selfsup.modality import get_modality

    work = Path(tempfile.mkdtemp(prefix="text_hf_"))
    try:
        ours = selfsup_side(data, method, budget, seed, work / "selfsup", options)
        run_dir = Path(ours["run"])
        spec = get_modality("text").input_spec_from_dict(json.loads((run_dir / "encoder.json").read_text()))
        from selfsup.config import load_config

        # the run's own data options (parsed as the run parsed them), tokenised with its tokenizer
        source = load_data(data, modality="text", seed=seed, input_spec=spec,
                           **load_config(run_dir / "config.yaml").data.options)
        tokenizer = hf_tokenizer(run_dir)
        metrics = ours["metrics"]
        ours_tokens = _tokens_per_s(metrics, source)
        row: dict[str, Any] = {
            "date": date.today().isoformat(), "commit": commit(), "machine": f"{platform.node()} {torch.get_num_threads()} threads",
            "data": data, "method": method, "budget_s": budget, "seed": seed, "options": options,
            "selfsup": {"steps": metrics["time_budget"]["steps"], "train_seconds": metrics["time_budget"]["trained_seconds"],
                        "tokens_per_s": round(ours_tokens, 1), **evaluate(ours["encoder"], source, seed)},
        }
        if method == "mlm":
            peer = hf_mlm(source, tokenizer, budget, seed)
        else:
            peer = hf_simcse(source, tokenizer, source_texts(source), budget, seed)
        row["huggingface"] = {"steps": peer["steps"], "train_seconds": round(peer["train_seconds"], 1),
                              "tokens_per_s": round(peer["tokens_per_s"], 1), **evaluate(peer["encoder"], source, seed)}
        row["tokens_per_s_ratio"] = round(row["selfsup"]["tokens_per_s"] / row["huggingface"]["tokens_per_s"], 3)
        import transformers
        row["versions"] = {"torch": torch.__version__, "transformers": transformers.__version__}
        if method != "mlm":
            import sentence_transformers
            row["versions"]["sentence_transformers"] = sentence_transformers.__version__
        with RESULTS.open("a") as f:
            f.write(json.dumps(row) + "\n")
        return row
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _tokens_per_s(metrics: dict[str, Any], source: Any) -> float:
    """Non-padding tokens trained on per second: steps × batch × mean text length (in tokens)."""
    lengths = [len(r) for r in train_rows(source)]
    plan = metrics["time_budget"]
    return plan["steps"] * BATCH * (sum(lengths) / len(lengths)) / plan["trained_seconds"]


def source_texts(source: Any) -> list[str]:
    """The training texts as strings, for the peer that tokenises them itself."""
    return list(source.texts_train)


def random_init(data: str, seed: int, options: list[str]) -> dict[str, Any]:
    """Both architectures at their initialisation (the seed's), scored like the trained ones: what
    training has to beat. The tokenizer is selfsup's, trained on the train split as in ``run``."""
    from transformers import BertModel

    from selfsup.assembly import build_encoder
    from selfsup.data import load_data

    parsed = {o.split("=", 1)[0][len("data.options."):]: o.split("=", 1)[1] for o in options
              if o.startswith("data.options.")}
    source = load_data(data, modality="text", seed=seed, **{k: int(v) if v.isdigit() else v for k, v in parsed.items()})
    ours = build_encoder("bert", source.input_spec, {"size": "mini", "pooling": "mean"}, seed)
    torch.manual_seed(seed)
    theirs = HFEncoder(BertModel(bert_config(source.input_spec.vocab_size, source.input_spec.max_length),
                                 add_pooling_layer=False))
    row = {"date": date.today().isoformat(), "machine": f"{platform.node()} {torch.get_num_threads()} threads",
           "data": data, "method": "random_init", "seed": seed, "options": options,
           "selfsup": evaluate(ours, source, seed), "huggingface": evaluate(theirs, source, seed)}
    with RESULTS.open("a") as f:
        f.write(json.dumps(row) + "\n")
    return row


def commit() -> str:
    """The repository's commit, recorded with every row."""
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent)
    return done.stdout.strip() or "unknown"


def table() -> str:
    # rows measured before bert took BERT's initialisation (73eefa4) are kept in the file, not shown
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "bert_init" not in r]
    lines = ["| data | method | side | steps | tokens/s | kNN | linear | R@1 KJV→WEB | R@10 KJV→WEB |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in rows:
        for side in ("selfsup", "huggingface"):
            s = {"steps": "", "tokens_per_s": math.nan, **row[side]}
            lines.append(f"| {row['data']} | {row['method']} | {side} | {s['steps']} | {s['tokens_per_s']:,.0f} | "
                         f"{s.get('knn_acc', math.nan):.3f} | {s.get('linear_acc', math.nan):.3f} | "
                         f"{s.get('verse_r@1_kjv_web', math.nan):.3f} | {s.get('verse_r@10_kjv_web', math.nan):.3f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run")
    one.add_argument("--data", default="fortunes")
    one.add_argument("--method", default="mlm", choices=("mlm", "simcse"))
    one.add_argument("--budget", type=float, default=300.0)
    one.add_argument("--seed", type=int, default=0)
    one.add_argument("--set", action="append", default=[], help="selfsup overrides, e.g. data.options.limit=5000")
    init = sub.add_parser("random", help="score both architectures at their initialisation")
    init.add_argument("--data", default="fortunes")
    init.add_argument("--seed", type=int, default=0)
    init.add_argument("--set", action="append", default=[])
    sub.add_parser("table")
    args = parser.parse_args()
    if args.command == "table":
        print(table())
        return
    if args.command == "random":
        print(json.dumps(random_init(args.data, args.seed, args.set), indent=2))
        return
    row = run(args.data, args.method, args.budget, args.seed, args.set)
    print(json.dumps({k: v for k, v in row.items() if k != "options"}, indent=2))


if __name__ == "__main__":
    main()
