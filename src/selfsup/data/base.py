"""The data contract: :class:`DataSource` (split datasets + collate + input spec), the array
record tensor modalities assemble (:class:`DataBundle`), the in-memory dataset that yields batch
dicts, and the safe NumPy reader."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from selfsup.data.segments import SegmentLabels
from selfsup.errors import SelfsupError


@dataclass
class DataBundle:
    """The decoded arrays of a tensor modality's splits, before they become a :class:`DataSource`.

    Readers of fixed-shape data (images, series) assemble and split these (``split_bundle``);
    the modality then wraps them with :meth:`to_source`, giving the contract the engine speaks.
    ``x_*`` hold the modality's compact representation (images: ``uint8`` or float ``[N, C, H,
    W]``); ``y_*`` are int64 ``[N]`` class indices or None when unlabeled. ``x_test`` is None
    when the source has no labels to evaluate against and no explicit test split.
    """

    name: str
    modality: str
    x_train: torch.Tensor
    y_train: torch.Tensor | None = None
    x_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    source_index: torch.Tensor | None = None
    """When a split reordered the source, the source row of each sample of
    ``cat(x_train, x_test)``; None when that concatenation is already in source order."""
    meta: dict[str, Any] = field(default_factory=dict)
    """Facts the reader found on the way (device and channel names …), which the modality turns
    into its typed input spec when it makes the :class:`DataSource`."""

    def to_source(
        self,
        input_spec: Any,
        on_device: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        source_type: type[DataSource] | None = None,
        **extra: Any,
    ) -> DataSource:
        """The :class:`DataSource` (or the modality's subclass ``source_type``, given its
        ``extra`` fields) over these arrays, one :class:`ArrayDataset` per split."""
        return (source_type or DataSource)(
            name=self.name,
            modality=self.modality,
            train=ArrayDataset(self.x_train, self.y_train),
            test=ArrayDataset(self.x_test, self.y_test) if self.x_test is not None else None,
            input_spec=input_spec,
            y_train=self.y_train,
            y_test=self.y_test,
            class_names=self.class_names,
            notes=list(self.notes),
            source_index=self.source_index,
            on_device=on_device,
            **extra,
        )


@dataclass
class DataSource:
    """What every data source gives the engine: split datasets, their collate, and the input spec.

    Attributes:
        name / modality: what the data is called and which modality reads it.
        train / test: map-style datasets (``__getitems__`` fetches a whole batch at once where the
            storage allows); ``test`` is None when there is no held-out split. Sizes come from
            ``len()``; nothing else about their items is assumed by the engine.
        collate: items (or the dict ``__getitems__`` returns) -> the batch dict of ARCHITECTURE.md:
            ``"x"`` in the structure the modality's encoders take, ``"index"``, optional ``"y"``
            and modality keys (padding masks, a graph's ``edge_index`` …).
        input_spec: the modality's typed description of one input, which encoder and view-maker
            factories receive (image ``(C, H, W)``, series length/channels/devices …).
        y_train / y_test: int64 ``[N]`` labels of each split, or None (evaluation reads them;
            a self-supervised method never sees them).
        class_names: original label values as strings, when labeled.
        notes: things the reader decided that the user should hear once.
        source_index: when a split reordered the rows of the user's file, the file row of each
            sample of train followed by test (so ``embed`` can return rows in file order).
        on_device: the modality's last step of batch preparation, run after the batch reached
            the device (images stored ``uint8`` become float there), or None.
        protocol: the evaluation protocol the modality's papers report under
            (:class:`~selfsup.eval.protocols.ProbeProtocol`: a graph's Planetoid split, random
            node splits, SVM cross-validation over graphs), scored beside the default probes; None
            for none.
        segment_labels: labels of time segments inside the samples of train followed by test
            (:class:`~selfsup.data.segments.SegmentLabels`: the phones of ``spoken_words``), for
            the measures made frame by frame (unit purity and PNMI); None where the data has none.
    """

    name: str
    modality: str
    train: Dataset
    input_spec: Any
    collate: Callable[[Any], dict[str, Any]] = None  # type: ignore[assignment]
    test: Dataset | None = None
    y_train: torch.Tensor | None = None
    y_test: torch.Tensor | None = None
    class_names: list[str] | None = None
    notes: list[str] = field(default_factory=list)
    source_index: torch.Tensor | None = None
    on_device: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    protocol: Any = None
    segment_labels: SegmentLabels | None = None

    def __post_init__(self) -> None:
        if self.collate is None:
            self.collate = collate_batch

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test) if self.test is not None else 0

    @property
    def num_classes(self) -> int | None:
        if self.y_train is None:
            return None
        ys = [self.y_train] + ([self.y_test] if self.y_test is not None else [])
        return int(max(int(y.max()) for y in ys)) + 1

    @property
    def labeled(self) -> bool:
        return self.y_train is not None

    @property
    def held_out(self) -> tuple[Dataset, torch.Tensor | None]:
        """``(dataset, y)`` that evaluation scores: the test split, or the train split when there
        is none."""
        if self.test is not None:
            return self.test, self.y_test
        return self.train, self.y_train

    def split_segment_labels(self, test: bool) -> SegmentLabels | None:
        """The segment labels of the test (else the train) split's samples, in the split's order;
        None where the data has none."""
        if self.segment_labels is None or (test and self.test is None):
            return None
        rows = np.arange(self.n_train, self.n_train + self.n_test) if test else np.arange(self.n_train)
        return self.segment_labels.take(rows)

    def validation_scorer(self) -> Callable[[Any], dict[str, float]] | None:
        """``encoder -> {name: score}`` on the data's validation split (higher is better, the first
        score the one ``train.early_stopping`` watches), or None where the data has no validation
        split (the default; interactions have one)."""
        return None

    def label_free_scores(self, encoder: Any, embedded: EmbeddedSplits | None = None) -> dict[str, float]:
        """Label-free figures the data set itself defines, for one encoder (higher is better): the
        aligned translations of ``bible_verses`` score retrieval of one verse from the other
        (``retrieval_r@1`` …). ``embedded``: the embeddings evaluation already computed with this
        encoder, for a source that can reuse them (paired data: each part's embedding is a slice of
        them). Evaluation adds them to the pretrained and random-init rows; the
        default has none."""
        return {}

    def report_extras(self, encoder: Any, seed: int) -> tuple[list[Any], list[tuple[str, list[str]]]]:
        """What the data adds to a run's report for its ``encoder``: further 2-D maps
        (:class:`~selfsup.eval.plots.EmbeddingMap`: paired data's joint space, one colour per part)
        and ``(sample, [its nearest samples])`` rows as text (paired data: retrieval examples
        across parts); none by default."""
        return [], []

    def sample_text(self, test: bool, i: int) -> str | None:
        """A short human-readable rendering of sample ``i`` of the test (or train) split, which
        the report prints beside its nearest neighbours; None (the default) where the data has
        no such rendering."""
        return None

    def run_files(self) -> dict[str, str]:
        """Files the run folder keeps beside the encoder, name -> text (a text run's
        ``tokenizer.json``); none by default."""
        return {}

    def check_resumed(self, run_dir: Path) -> None:
        """Refuse to resume the run in ``run_dir`` when a file it keeps (``run_files``) differs
        from what this data makes now (a text run's tokenizer trained on other texts): the run's
        encoder was trained on the saved one."""
        for name, text in self.run_files().items():
            saved = Path(run_dir) / name
            if saved.is_file() and saved.read_text(encoding="utf-8") != text:
                raise SelfsupError(
                    f"{self.name} makes a {name} that differs from the run's {saved}: its encoder was trained on "
                    "that one. Resume with the same data and data.options, or start a new run.")

    def train_sampler(self, seed: int, batch_size: int) -> torch.utils.data.Sampler:
        """The order of the training samples: a new seeded permutation each epoch. A modality may
        group samples of similar size into the same batches of ``batch_size`` (text:
        length-bucketed batches)."""
        from selfsup.engine.sampling import EpochSeededSampler

        return EpochSeededSampler(self.train, seed)

    def finish(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The batch as encoders and views take it, once it is on its device."""
        return self.on_device(batch) if self.on_device is not None else batch

    def loader(
        self, dataset: Dataset, batch_size: int, num_workers: int = 0
    ) -> torch.utils.data.DataLoader:
        """An in-order loader over ``dataset`` (a split, or a ``Subset`` of one) with this
        source's collate: what evaluation embeds through."""
        # its own generator: iterating must not draw from the global RNG, which seeds the views
        return torch.utils.data.DataLoader(
            dataset, batch_size=batch_size, shuffle=False, collate_fn=self.collate,
            num_workers=num_workers, generator=torch.Generator().manual_seed(0),
        )

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "modality": self.modality,
            **spec_to_dict(self.input_spec),
            "n_train": self.n_train,
            "n_test": self.n_test,
            "num_classes": self.num_classes,
        }


@dataclass
class EmbeddedSplits:
    """Embeddings evaluation computed for one encoder: ``train`` ``[N, D]`` of ``train_set`` (the
    train split or a subset of it, labels ``y_train``) and ``held_out`` ``[M, D]`` of the source's
    held-out split (:attr:`DataSource.held_out`)."""

    train_set: Any
    y_train: torch.Tensor | None
    train: torch.Tensor
    held_out: torch.Tensor


def spec_to_dict(input_spec: Any) -> dict[str, Any]:
    """An input spec as plain JSON: its own ``to_dict()``, or the shape of a tuple spec."""
    if hasattr(input_spec, "to_dict"):
        return input_spec.to_dict()
    return {"input_shape": [int(s) for s in input_spec]}


class ArrayDataset(Dataset):
    """Map-style dataset over in-memory tensors yielding batch dicts.

    Implements ``__getitems__`` so a DataLoader fetches a whole batch with one indexing
    operation instead of collating per-sample dicts; use :func:`collate_batch` as collate_fn.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> None:
        self.x = x
        self.y = y

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _batch(self, index: torch.Tensor) -> dict[str, torch.Tensor]:
        batch = {"x": self.x[index], "index": index}
        if self.y is not None:
            batch["y"] = self.y[index]
        return batch

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {k: v[0] for k, v in self._batch(torch.tensor([i])).items()}

    def __getitems__(self, indices: list[int]) -> dict[str, torch.Tensor]:
        return self._batch(torch.as_tensor(indices, dtype=torch.long))


def collate_batch(items: Any) -> dict[str, torch.Tensor]:
    """Collate for :class:`ArrayDataset`: a dict from ``__getitems__`` passes through."""
    if isinstance(items, dict):
        return items
    return torch.utils.data.default_collate(items)


def np_load(path: Path) -> Any:
    """``np.load`` of a ``.npy`` (array) or ``.npz`` (lazy archive) file, every modality's array
    reader; pickled objects are refused and any failure is one :class:`SelfsupError`."""
    try:  # allow_pickle=False: a data file must never run code
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        if "pickle" in str(error):
            raise SelfsupError(
                f"{path} holds Python objects, which are not loaded for safety. Save plain "
                "numeric arrays (labels as ints or np.array(labels, dtype=str))."
            ) from None
        raise SelfsupError(f"Could not read {path} as a NumPy array: {error}") from None
    except Exception as error:  # noqa: BLE001 - any failure means "not a readable array file"
        raise SelfsupError(f"Could not read {path} as a NumPy file: {error}") from None
