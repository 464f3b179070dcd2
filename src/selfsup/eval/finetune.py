"""Fine-tuning with few labels: the encoder and a linear head trained end to end on a seeded,
stratified fraction of the training labels, next to the same encoder trained from scratch.

The protocol of the semi-supervised evaluations in the work selfsup comes from (SimCLR, Chen et al.
2020, Section 4.3: fine-tuning on 1 % and 10 % of the labels; AstroM³, Rizhko & Bloom 2024: each
modality's classifier fine-tuned from CLIP weights vs from scratch at 1 %, 10 %, 100 %):

- **Labelled subset.** For each fraction and seed, a stratified subset of the training split
  (largest-remainder rounding, at least one sample of every class): ``fraction=1.0`` is every label.
- **Validation.** A stratified fifth of the labelled subset (at least one sample, and none taken
  from a class with a single labelled sample) is held back; the head and encoder train on the rest.
  Each epoch ends with the validation accuracy; training stops after ``patience`` epochs without
  improvement and the best epoch's weights are restored (early stopping on labels the run was
  given, never on the test split).
- **Model and optimiser.** The encoder's pooled output ``[B, D]`` -> ``nn.Linear(D, C)``, trained
  with cross-entropy and AdamW: the encoder at ``lr``, the freshly initialised head at
  ``head_lr`` (the head starts from nothing; a pretrained encoder should move less). An epoch is
  one pass over the labelled samples, or several when one pass is fewer than
  ``min_steps_per_epoch`` batches (1 % of a small set is a batch or two: fifty such epochs would
  hardly move the head).
- **Linear probe first** (LP-FT, Kumar et al. 2022, "Fine-Tuning can Distort Pretrained Features
  and Underperform Out-of-Distribution"; on by default, ``linear_probe_first``). Before any
  gradient step the head is fitted alone on the frozen encoder's embeddings of the labelled
  samples: logistic regression on standardised embeddings, its ``C`` chosen on the validation
  split, folded back into the linear head. That head on the untouched encoder is "epoch 0", which
  early stopping may keep; the patience counts epochs without a better fine-tuned epoch, so a
  strong epoch 0 does not cut short a fine-tuning that dips before it climbs. Without it a fresh head trained by SGD from zero had to fit
  badly-scaled embeddings while the encoder moved under it: on ``synthetic_astro``'s light curves
  fine-tuning with every label reached 0.39, the fitted head alone on the same frozen encoder 0.50
  (3-channel light curves before 637513d).
- **Scores.** Test-split accuracy of the restored model; each fraction is repeated over ``seeds``
  (the subset, the head's initialisation and the batch order all change with the seed) and
  reported as mean and standard deviation.

Everything goes through the data source's loader and on-device step, so any modality whose encoder
maps ``batch["x"]`` to ``[B, D]`` fine-tunes the same way.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from selfsup.data.base import DataSource
from selfsup.data.splits import stratified_split
from selfsup.errors import SelfsupError
from selfsup.eval.suite import move_to


@dataclass(frozen=True)
class FinetuneConfig:
    """How each fine-tuning run trains (see the module doc)."""

    epochs: int = 50
    patience: int = 10
    batch_size: int = 64
    lr: float = 1e-4
    head_lr: float = 1e-2
    min_steps_per_epoch: int = 10
    weight_decay: float = 1e-4
    validation_fraction: float = 0.2
    linear_probe_first: bool = True

    def __post_init__(self) -> None:
        for key in ("epochs", "patience", "batch_size", "min_steps_per_epoch"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise SelfsupError(f"Fine-tuning's {key} must be a whole number >= 1; got {value!r}.")
        for key in ("lr", "head_lr"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 10:
                raise SelfsupError(f"Fine-tuning's {key} must be a number in (0, 10); got {value!r}.")
        if not 0 <= self.validation_fraction < 1:
            raise SelfsupError(f"Fine-tuning's validation_fraction must be in [0, 1); got {self.validation_fraction!r}.")


@dataclass
class FinetuneScore:
    """One fraction of labels for one starting point, over the seeds."""

    start: str
    fraction: float
    labels: int
    accuracies: list[float] = field(default_factory=list)
    best_epochs: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.accuracies))

    @property
    def std(self) -> float:
        return float(np.std(self.accuracies, ddof=1)) if len(self.accuracies) > 1 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "fraction": self.fraction, "labels": self.labels, "mean": self.mean,
                "std": self.std, "accuracies": self.accuracies, "best_epochs": self.best_epochs}


def check_fractions(fractions: Sequence[float]) -> list[float]:
    """``fractions`` as floats in (0, 1], or one SelfsupError naming the bad one."""
    out = []
    for value in fractions:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 < float(value) <= 1.0:
            raise SelfsupError(f"A label fraction must be in (0, 1] (e.g. 0.01, 0.1, 1.0); got {value!r}.")
        out.append(float(value))
    if not out:
        raise SelfsupError("Give at least one label fraction (e.g. --labels 0.01 --labels 0.1 --labels 1.0).")
    return out


def labelled_subset(y: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Indices of a stratified ``fraction`` of ``y``, sorted: the training side of
    :func:`~selfsup.data.splits.stratified_split` holding back ``1 - fraction``, so every class
    keeps at least one sample and the total is about ``round(fraction * len(y))``."""
    return stratified_split(y, 1.0 - fraction, seed)[0]


def validation_split(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, validation)`` within ``y``: a stratified ``fraction`` for validation, never
    a class's only sample, at least one validation sample when two or more are labelled."""
    fit, validation, _ = stratified_split(y, fraction, seed + 1)
    if not len(validation) and len(y) >= 2:  # every class has one sample: validate on one of them
        validation = np.asarray([int(np.random.default_rng(seed + 1).integers(len(y)))])
        fit = np.setdiff1d(np.arange(len(y)), validation)
    return fit, validation


def _batches(source: DataSource, dataset: Any, indices: np.ndarray, batch_size: int,
             generator: torch.Generator | None, min_batches: int = 1) -> Any:
    """``(batch, positions)`` over ``indices`` of ``dataset``, shuffled when ``generator`` is given
    (then passes are added until there are ``min_batches``); a lone last sample joins the batch
    before it (batch norm needs two)."""
    if generator is None:
        order = indices
    else:
        passes = max(1, math.ceil(min_batches * batch_size / len(indices)))
        order = np.concatenate([indices[torch.randperm(len(indices), generator=generator).numpy()]
                                for _ in range(passes)])
    chunks = [order[i: i + batch_size] for i in range(0, len(order), batch_size)]
    if len(chunks) > 1 and len(chunks[-1]) == 1:
        chunks[-2], chunks = np.concatenate(chunks[-2:]), chunks[:-1]
    loader = torch.utils.data.DataLoader(dataset, batch_sampler=[c.tolist() for c in chunks], collate_fn=source.collate)
    yield from zip(loader, chunks)


def _accuracy(model: nn.Module, source: DataSource, dataset: Any, indices: np.ndarray, y: torch.Tensor,
              device: torch.device) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for batch, positions in _batches(source, dataset, indices, 512, None):
            logits = model(source.finish(move_to(batch, device))["x"])
            correct += int((logits.argmax(1).cpu() == y[positions]).sum())
    return correct / max(1, len(indices))


#: the logistic regression's inverse regularisation strengths tried for the head (LP-FT's "LP")
PROBE_C = (0.01, 0.1, 1.0, 10.0)


def _embed(encoder: nn.Module, source: DataSource, indices: np.ndarray, device: torch.device) -> np.ndarray:
    encoder.eval()
    with torch.no_grad():
        parts = [encoder(source.finish(move_to(batch, device))["x"]).float().cpu()
                 for batch, _ in _batches(source, source.train, indices, 512, None)]
    return torch.cat(parts).numpy().astype(np.float64)


def fit_head(head: nn.Linear, encoder: nn.Module, source: DataSource, fit: np.ndarray, validation: np.ndarray,
             y: torch.Tensor, device: torch.device) -> float:
    """Set ``head`` to a logistic regression fitted on the frozen ``encoder``'s standardised
    embeddings of ``fit`` (``C`` from :data:`PROBE_C`, the best on ``validation``; 1.0 without
    one), the standardisation folded into its weights. Returns the ``C`` chosen."""
    from sklearn.linear_model import LogisticRegression

    train_x, train_y = _embed(encoder, source, fit, device), y[fit].numpy()
    mean, std = train_x.mean(0), train_x.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    train_x = (train_x - mean) / std
    candidates = PROBE_C if len(validation) else (1.0,)
    val_x = (_embed(encoder, source, validation, device) - mean) / std if len(validation) else None
    best, chosen = None, None
    for c in candidates:
        model = LogisticRegression(C=c, max_iter=2000).fit(train_x, train_y)
        score = model.score(val_x, y[validation].numpy()) if val_x is not None else 0.0
        if best is None or score > best[0]:
            best, chosen = (score, model), c
    model = best[1]
    weight = np.zeros((head.out_features, train_x.shape[1]))
    bias = np.full(head.out_features, -1e4)  # a class the fitted samples lack is never predicted
    coef, intercept = model.coef_, model.intercept_
    if len(model.classes_) == 2:  # sklearn's binary model: one row, the second class's logit
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    weight[model.classes_], bias[model.classes_] = coef, intercept
    weight = weight / std
    bias = bias - weight @ mean
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))
    return float(chosen)


def finetune_once(make_encoder: Callable[[], nn.Module], source: DataSource, fraction: float, seed: int,
                  config: FinetuneConfig, device: torch.device) -> tuple[float, int, int]:
    """One fine-tuning run: ``(test accuracy, labels used, best epoch)``."""
    y_train = source.y_train.long()
    labelled = labelled_subset(y_train.numpy(), fraction, seed)
    fit_pos, val_pos = validation_split(y_train[labelled].numpy(), config.validation_fraction, seed)
    fit, validation = labelled[fit_pos], labelled[val_pos]
    torch.manual_seed(seed)
    encoder = make_encoder().to(device)
    head = nn.Linear(int(encoder.output_dim), int(source.num_classes)).to(device)
    model = nn.Sequential(encoder, head)
    best, best_epoch, best_state, waited, best_tuned = -math.inf, 0, None, 0, -math.inf
    if config.linear_probe_first:  # epoch 0: the fitted head on the frozen encoder
        fit_head(head, encoder, source, fit, validation, y_train, device)
        best = _accuracy(model, source, source.train, validation, y_train, device) if len(validation) else 0
        best_state = copy.deepcopy(model.state_dict())
    optimiser = torch.optim.AdamW([{"params": encoder.parameters(), "lr": config.lr},
                                   {"params": head.parameters(), "lr": config.head_lr}],
                                  weight_decay=config.weight_decay)
    generator = torch.Generator().manual_seed(seed)
    for epoch in range(1, config.epochs + 1):
        model.train()
        for batch, positions in _batches(source, source.train, fit, config.batch_size, generator,
                                         config.min_steps_per_epoch):
            logits = model(source.finish(move_to(batch, device))["x"])
            loss = nn.functional.cross_entropy(logits, y_train[positions].to(device))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        score = _accuracy(model, source, source.train, validation, y_train, device) if len(validation) else epoch
        if score > best:
            best, best_epoch = score, epoch
            best_state = copy.deepcopy(model.state_dict())
        # patience counts fine-tuning's own progress: a strong epoch 0 (the fitted head) must not
        # stop a fine-tuning that dips at first and then climbs past it
        if score > best_tuned:
            best_tuned, waited = score, 0
        else:
            waited += 1
            if waited >= config.patience:
                break
    model.load_state_dict(best_state)
    test_y = source.y_test.long()
    accuracy = _accuracy(model, source, source.test, np.arange(len(test_y)), test_y, device)
    return accuracy, len(labelled), best_epoch


def check_finetunable(source: DataSource, fractions: Sequence[float]) -> None:
    """One SelfsupError when ``source`` cannot be fine-tuned on: no labels, no test split, or fewer
    labelled samples at the smallest fraction than there are classes."""
    if not source.labeled or source.y_train is None:
        raise SelfsupError(f"Data {source.name!r} has no labels: fine-tuning needs a label per training sample "
                           "(evaluate with the label-free scores instead, or pass labelled data with --data).")
    if source.test is None or source.y_test is None:
        raise SelfsupError(f"Data {source.name!r} has no labelled test split to measure fine-tuning on.")
    classes = int(source.num_classes)
    smallest = min(fractions)
    if round(smallest * len(source.y_train)) < classes:
        raise SelfsupError(
            f"{smallest:g} of the {len(source.y_train):,} training labels is {round(smallest * len(source.y_train))} "
            f"samples, fewer than the {classes} classes: use a fraction of at least "
            f"{math.ceil(classes / len(source.y_train) * 1000) / 1000:g}."
        )


def finetune_starts(starts: dict[str, Callable[[], nn.Module]], source: DataSource, fractions: Sequence[float],
                    seeds: Sequence[int], config: FinetuneConfig, device: Any = None,
                    progress: Callable[[str], None] | None = None) -> list[FinetuneScore]:
    """Fine-tune each starting point of ``starts`` (name -> a factory of a fresh encoder) at each
    fraction of labels, once per seed: one :class:`FinetuneScore` per start and fraction."""
    fractions = check_fractions(fractions)
    check_finetunable(source, fractions)
    device = torch.device(device or "cpu")
    scores = []
    for fraction in fractions:
        for start, make in starts.items():
            score = FinetuneScore(start, fraction, 0)
            for seed in seeds:
                accuracy, labels, epoch = finetune_once(make, source, fraction, int(seed), config, device)
                score.labels = labels
                score.accuracies.append(accuracy)
                score.best_epochs.append(epoch)
                if progress is not None:
                    progress(f"{start}, {fraction:g} of the labels ({labels}), seed {seed}: "
                             f"accuracy {accuracy:.4f} (best epoch {epoch})")
            scores.append(score)
    return scores
