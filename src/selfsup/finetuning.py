"""``selfsup finetune RUN``: a finished run's encoder fine-tuned with few labels, next to the same
encoder trained from scratch (the protocol is :mod:`selfsup.eval.finetune`'s)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from selfsup.config import load_config
from selfsup.engine.rundir import write_json
from selfsup.errors import Interrupted, SelfsupError
from selfsup.eval.finetune import FinetuneConfig, finetune_starts
from selfsup.finished import open_run_data, slug

DEFAULT_FRACTIONS = (0.01, 0.1, 1.0)


def finetune(run_dir: str | Path, data: Any = None, labels: Sequence[float] = DEFAULT_FRACTIONS, seeds: int = 3,
             scratch: bool = True, config: FinetuneConfig | None = None, modality: str | None = None,
             device: Any = None, progress: Callable[[str], None] | None = None, part: str | None = None) -> dict[str, Any]:
    """Fine-tune a run's encoder (and, with ``scratch``, a freshly initialised one of the same
    architecture) at each fraction of ``labels``, ``seeds`` times each.

    ``data`` defaults to the run's own data, read as the run reads it. The result (the settings and
    one row per start and fraction: mean and std of the test accuracy over the seeds, each seed's
    accuracy and best epoch) is written to ``finetune.json`` in the run folder
    (``finetune_<data>.json`` for other data) and returned with ``written_to``.

    ``part``: for a run on paired data, fine-tune the encoder of that part alone on that part of the
    data (``finetune_<part>.json``); without it a paired run's whole encoder (every part, fused) is
    fine-tuned."""
    from selfsup.registry import ENCODERS

    run_dir = Path(run_dir)
    run_config = load_config(run_dir / "config.yaml")
    if data is None and run_config.data.name.startswith("in-memory "):
        raise SelfsupError(f"{run_dir} was trained on data passed in memory ({run_config.data.name}); pass the "
                           "labelled data to fine-tune on with data=.")
    name = run_config.data.name if data is None else data
    encoder, source = open_run_data(run_dir, name, modality)
    spec = json.loads((run_dir / "encoder.json").read_text())
    build = {"name": spec["name"], **spec.get("kwargs", {})}
    if part is not None:
        encoder, source, build = _part(encoder, source, part, run_dir)
    config = config or FinetuneConfig()
    starts: dict[str, Callable[[], Any]] = {"pretrained": lambda: copy.deepcopy(encoder).train()}
    if scratch:  # initialised from the seed finetune_once sets, so each seed draws its own
        starts["scratch"] = lambda: ENCODERS.build(build["name"], source.input_spec,
                                                   **{k: v for k, v in build.items() if k != "name"})
    own = data is None or (isinstance(data, str) and data == run_config.data.name)
    other = slug(str(data)) if isinstance(data, (str, Path)) else "in-memory"
    target = run_dir / ("finetune" + ("" if own else f"_{other}") + (f"_{slug(part)}" if part else "") + ".json")
    try:
        scores = finetune_starts(starts, source, labels, list(range(int(seeds))), config, device, progress)
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by Ctrl-C; nothing was written to {run_dir}.") from None
    result = {"data": source.name, **({"part": part} if part else {}), "classes": int(source.num_classes), "train": source.n_train,
              "test": source.n_test, "seeds": int(seeds), "settings": dataclasses.asdict(config),
              "rows": [score.as_dict() for score in scores]}
    write_json(target, result)
    result["written_to"] = str(target)
    return result


def _part(encoder: Any, source: Any, part: str, run_dir: Path) -> tuple[Any, Any, dict[str, Any]]:
    """Part ``part`` of a paired run: its encoder, its data (the pairs' split and labels) and what
    rebuilds its encoder from scratch."""
    if not (hasattr(encoder, "parts") and hasattr(encoder, "components") and hasattr(source, "part")):
        raise SelfsupError(f"--part picks one modality of a run on paired data; {run_dir} was trained on "
                           f"{source.modality} data. Leave --part out.")
    if part not in encoder.components:
        raise SelfsupError(f"{run_dir} has no part {part!r}; its parts are {', '.join(encoder.components)}.")
    return encoder.parts[part], source.part(part), dict(encoder.components[part])
