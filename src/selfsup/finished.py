"""A finished run: ``load`` its encoder, ``evaluate`` it on its own or other data, ``embed``
data with it; and the report every run writes (:func:`write_run_report`), shared with
:func:`selfsup.api.pretrain`."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from selfsup.assembly import build_encoder, components, load_source, use_svm
from selfsup.config import Config, load_config
from selfsup.data import DataSource, load_data
from selfsup.data.base import spec_to_dict
from selfsup.engine.rundir import load_encoder, write_json
from selfsup.errors import Interrupted, SelfsupError


def write_run_report(
    out: Path, config: Config, encoder_name: str, source: DataSource, final: dict[str, Any], held_out_emb: torch.Tensor,
    encoder: nn.Module | None = None,
) -> None:
    """Step 7: report.html (loss and monitors over training, the final table, a 2-D map; for a run
    on interactions, the ranking table and a map of the ``encoder``'s items by their label; what the
    data adds for the encoder, ``source.report_extras``: paired data's joint map and retrieval examples)."""
    from selfsup.eval.recommendation import item_map
    from selfsup.eval.report import read_metrics_csv, write_report

    task = getattr(source, "recommendation", None)
    items = item_map(encoder, task) if task is not None and hasattr(encoder, "user_item_embeddings") else None
    maps, examples = source.report_extras(encoder, config.train.seed) if encoder is not None else ([], [])

    write_report(
        out / "report.html",
        title=f"{config.method.name} · {encoder_name} · {config.data.name}",
        config=config.to_dict(),
        metrics_rows=read_metrics_csv(out / "metrics.csv"),
        final=final,
        test_emb=held_out_emb,
        test_y=source.held_out[1],
        class_names=source.class_names,
        maps=([items] if items is not None else []) + maps,
        neighbours=nearest_neighbour_texts(source, held_out_emb, config.train.seed) + examples,
    )


def nearest_neighbour_texts(source: DataSource, held_out_emb: torch.Tensor, seed: int, samples: int = 6,
                            k: int = 3) -> list[tuple[str, list[str]]]:
    """For ``samples`` seeded held-out samples the data can render as text
    (``source.sample_text``), the texts of their ``k`` nearest held-out neighbours by cosine
    similarity (label in brackets when labeled); empty when the data renders no text."""
    test = source.test is not None
    n = int(held_out_emb.shape[0]) if held_out_emb is not None else 0
    if n < 2 or source.sample_text(test, 0) is None:
        return []
    _, y = source.held_out
    names = source.class_names

    def render(i: int) -> str:
        label = f" [{names[int(y[i])] if names else int(y[i])}]" if y is not None else ""
        return f"{source.sample_text(test, i)}{label}"

    emb = torch.nn.functional.normalize(held_out_emb.float(), dim=1)
    chosen = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:samples].tolist()
    similarity = emb[chosen] @ emb.T
    similarity[torch.arange(len(chosen)), torch.as_tensor(chosen)] = -float("inf")  # not itself
    nearest = similarity.topk(min(k, n - 1), dim=1).indices.tolist()
    return [(render(i), [render(j) for j in row]) for i, row in zip(chosen, nearest)]


def load(run_dir: str | Path) -> nn.Module:
    """The pretrained encoder of a run, rebuilt from ``encoder.json`` + ``encoder.safetensors``.

    It also has ``encoder.embed(data, batch_size=512) -> np.ndarray [N, D]``: ``data`` (in memory —
    arrays, tensors, a DataFrame, a Dataset — a built-in name or a path) read as the run reads data
    and embedded in batches by *this* module (its current weights, on its device)."""
    encoder = load_encoder(run_dir)
    encoder.embed = functools.partial(_embed_with, encoder, Path(run_dir))
    return encoder


def _embed_with(encoder: nn.Module, run_dir: Path, data: Any, batch_size: int = 512) -> np.ndarray:
    config, spec = load_config(run_dir / "config.yaml"), _read_json(run_dir / "encoder.json")
    source = _read_as_run(config, spec, data, None)
    _check_input_spec(source, spec, run_dir)
    splits = [source.train] + ([source.test] if source.test is not None else [])
    was_training = encoder.training
    try:
        return _embed_splits(encoder.eval(), source, splits, batch_size, None)
    finally:
        encoder.train(was_training)


def _open_run(run_dir: Path) -> tuple[Config, nn.Module, dict[str, Any]]:
    """A finished run's configuration, encoder and encoder description."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise SelfsupError(f"{run_dir} is not a selfsup run folder (config.yaml is missing).")
    config = load_config(path)
    encoder = load_encoder(run_dir)
    return config, encoder, _read_json(run_dir / "encoder.json")


def _check_input_spec(source: DataSource, spec: dict[str, Any], run_dir: Path) -> None:
    """Refuse data whose inputs differ from those the run's encoder was trained on."""
    have = spec_to_dict(source.input_spec)
    trained = {k: spec[k] for k in have if k in spec}
    if "input_shape" in trained and list(have["input_shape"]) != list(trained["input_shape"]):
        raise SelfsupError(
            f"Data {source.name!r} has samples of shape {list(have['input_shape'])}, but the encoder of "
            f"{run_dir} was trained on {trained['input_shape']}."
        )


def _run_spec_option(spec: dict[str, Any], data: str, modality: str) -> dict[str, Any]:
    """``{"input_spec": the run's input spec}`` when ``data`` (a built-in's own modality, or
    ``modality``) is the run's modality and that modality encodes new data with the run's spec
    (:attr:`~selfsup.modality.ModalitySpec.reads_with_run_spec`); else nothing."""
    from selfsup.modality import get_modality
    from selfsup.registry import DATASETS

    data_modality = DATASETS.info(data).modality if data in DATASETS else modality
    if spec.get("modality") != data_modality or not get_modality(data_modality).reads_with_run_spec:
        return {}
    return {"input_spec": get_modality(data_modality).input_spec_from_dict(spec)}


def evaluate(run_dir: str | Path, data: str | None = None, modality: str | None = None) -> dict[str, Any]:
    """Evaluate a finished run's encoder (and a random-init one) on its own data or on ``data``.

    On the run's own data this rewrites ``metrics.json``; on other data it writes
    ``eval_<name>.json`` beside it and leaves the run's files as they are.
    """
    from selfsup.engine.evaluation import evaluate_run_encoder
    from selfsup.registry import VIEWS

    run_dir = Path(run_dir)
    config, encoder, spec = _open_run(run_dir)
    own = data is None or data == config.data.name
    if not own:
        config = config.model_copy(
            update={"data": config.data.model_copy(update={"name": data, **({"modality": modality} if modality else {})})}
        )
    target = run_dir / ("metrics.json" if own else f"eval_{slug(config.data.name)}.json")
    # everything that could stop the results from being written is checked before evaluating
    previous = _read_json(target, hint="Move it away and run evaluate again to write it anew.") \
        if own and target.is_file() else {}
    _check_writable(run_dir)
    source = load_source(config, **_run_spec_option(spec, config.data.name, config.data.modality))
    _check_input_spec(source, spec, run_dir)
    _, _, views_name, views_kwargs = components(config, source)
    views = VIEWS.build(views_name, source.input_spec, **views_kwargs)
    try:
        result, held_out_emb = evaluate_run_encoder(
            encoder,
            lambda: build_encoder(spec["name"], source.input_spec, spec.get("kwargs", {}), config.train.seed),
            source,
            views,
            config.eval,
            seed=config.train.seed,
            svm=use_svm(config),
        )
        result = {**previous, **result}
        write_json(target, result)  # whole or not at all
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by Ctrl-C; {target.name} in {run_dir} is as it was.") from None
    if own:  # the report shows the run's own results (and is written anew after a killed run)
        try:
            write_run_report(run_dir, config, spec["name"], source, result, held_out_emb, encoder)
        except KeyboardInterrupt:
            raise Interrupted(f"Stopped by Ctrl-C; {target.name} is written, report.html is as it was "
                              "(run evaluate again to write it).") from None
    result["written_to"] = str(target)
    return result


def _check_writable(folder: Path) -> None:
    """Refuse, before any work, a folder the results cannot be written into."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise SelfsupError(
            f"Cannot write into {folder} ({err.strerror or err}); the results are written there. "
            "Copy the run to a folder you can write to, or fix its permissions."
        ) from None


def embed(
    run_dir: str | Path, data: Any, out: str | Path | None = None, modality: str | None = None, batch_size: int = 512
) -> np.ndarray:
    """Embeddings ``[N, D]`` of every sample of ``data``, optionally saved to ``out`` as ``.npy``.

    Rows follow the source: a file's own order (a random split made while reading is undone);
    the train split then the test split for explicit splits and built-in data sets."""
    out = _check_embed_out(out, data)
    encoder, source = open_run_data(run_dir, data, modality)
    splits = [source.train] + ([source.test] if source.test is not None else [])
    try:
        return _embed_splits(encoder, source, splits, batch_size, out)
    except KeyboardInterrupt:
        raise Interrupted(f"Stopped by Ctrl-C; {out or 'nothing'} was not written.") from None


def open_run_data(run_dir: str | Path, data: Any, modality: str | None = None) -> tuple[nn.Module, DataSource]:
    """A finished run's encoder and ``data`` (a name, a path, a DataSource or in-memory data:
    :mod:`selfsup.data.objects`) read as the run reads data (its seed, test fraction, data options
    and, for tables, its input encoding), checked against the encoder's inputs."""
    run_dir = Path(run_dir)
    config, encoder, spec = _open_run(run_dir)
    source = _read_as_run(config, spec, data, modality)
    _check_input_spec(source, spec, run_dir)
    return encoder, source


def _read_as_run(config: Config, spec: dict[str, Any], data: Any, modality: str | None) -> DataSource:
    """``data`` (a DataSource, in-memory data, a name or a path) read with the run's seed, test
    fraction, data options and, for tables, its input encoding."""
    from selfsup.data.objects import is_data_object, materialize, source_from_object

    from selfsup.registry import DATASETS

    if isinstance(data, DataSource):
        return data
    modality = modality or spec.get("modality", config.data.modality)
    # a built-in's options (bible_verses' target, fortunes' limit) are its own, not a reader's
    options = {} if config.data.name in DATASETS and data != config.data.name else config.data.options
    if is_data_object(data):  # arrays, tensors, a DataFrame: read as the run reads its files
        return source_from_object(materialize(data), modality, seed=config.train.seed, test_fraction=config.data.test_fraction,
                                  **options, **_run_spec_option(spec, "", modality))
    return load_data(data, modality=modality, seed=config.train.seed, test_fraction=config.data.test_fraction,
                     **options, **_run_spec_option(spec, data, modality))


def _embed_splits(encoder: nn.Module, source: DataSource, splits: list[Any], batch_size: int, out: Path | None) -> np.ndarray:
    from selfsup.eval import embed_loader

    emb = torch.cat([embed_loader(encoder, source.loader(split, batch_size), source.finish) for split in splits])
    if source.source_index is not None:
        emb = emb[torch.argsort(source.source_index)]
    emb = emb.numpy()
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial.npy")
        try:
            np.save(partial, emb)
            partial.replace(out)  # whole or not at all
        finally:
            partial.unlink(missing_ok=True)  # a full disk or Ctrl-C leaves no half file
    return emb


def _check_embed_out(out: str | Path | None, data: Any) -> Path | None:
    """``out`` as a path that is safe to write: a ``.npy`` file (what is written is what is
    reported) that is not the input data itself."""
    if out is None:
        return None
    out = Path(out)
    if out.suffix.lower() != ".npy":
        raise SelfsupError(f"Embeddings are written as a NumPy .npy file; --out {out} does not end in .npy. "
                           f"Use --out {out.with_suffix('.npy')}.")
    if isinstance(data, (str, Path)) and Path(data).expanduser().exists():
        source = Path(data).expanduser().resolve()
        target = out.expanduser().resolve()
        if target == source or (source.is_dir() and source in target.parents):
            raise SelfsupError(f"--out {out} would overwrite the input data {data}. Choose another file.")
    if out.is_dir():
        raise SelfsupError(f"--out {out} is a folder; give a file name ending in .npy.")
    return out


def _read_json(path: Path, hint: str = "") -> dict[str, Any]:
    import json

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SelfsupError(f"{path} could not be read as JSON ({err}). {hint}".rstrip()) from None
    if not isinstance(data, dict):
        raise SelfsupError(f"{path} holds a JSON {type(data).__name__}, not an object. {hint}".rstrip())
    return data


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in Path(name).name)[:60] or "data"


WHAT = ("users", "items")


def _tables(run_dir: Path) -> tuple[nn.Module, dict[str, list[str]], Any, Any]:
    """A run's encoder (which must give user and item tables), its ids.json, and both tables."""
    _, encoder, _ = _open_run(run_dir)
    if not hasattr(encoder, "user_item_embeddings"):
        raise SelfsupError(f"The encoder of {run_dir} embeds samples, not a catalogue of users and items; "
                           "--what and recommend are for runs on interactions (--modality interactions).")
    ids = _read_json(run_dir / "ids.json", hint="It is written by runs on interactions.") \
        if (run_dir / "ids.json").is_file() else None
    if ids is None:
        raise SelfsupError(f"{run_dir} has no ids.json (the original user and item ids); rerun the pretraining.")
    with torch.no_grad():
        users, items = encoder.user_item_embeddings()
    return encoder, ids, users.float(), items.float()


def embed_table(run_dir: str | Path, what: str, out: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """The final user or item table of a run on interactions (``what``: ``users`` / ``items``), keyed
    by the original ids: ``(ids, [N, D])``. ``out`` (optional) is a ``.csv`` (an ``id`` column, then
    ``e0 … e{D-1}``) or a ``.npy`` with the ids beside it in ``<out>.ids.txt``, one per line."""
    if what not in WHAT:
        raise SelfsupError(f"--what is users or items; got {what!r}.")
    target = Path(out) if out is not None else None
    if target is not None and target.suffix.lower() not in (".csv", ".npy"):
        raise SelfsupError(f"--out {target} must end in .csv or .npy for a table of {what}.")
    _, ids, users, items = _tables(Path(run_dir))
    table = (users if what == "users" else items).numpy()
    keys = list(ids[what])
    if target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        try:
            if target.suffix.lower() == ".csv":
                import csv

                with open(partial, "w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle)
                    writer.writerow(["id"] + [f"e{j}" for j in range(table.shape[1])])
                    writer.writerows([key, *map(float, row)] for key, row in zip(keys, table))
            else:
                with open(partial, "wb") as handle:
                    np.save(handle, table)
                target.with_name(target.name + ".ids.txt").write_text("\n".join(keys) + "\n", encoding="utf-8")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
    return keys, table


def recommend(run_dir: str | Path, user: str, k: int = 10) -> list[tuple[str, float]]:
    """The ``k`` best items for ``user`` (an original id) by the run's embeddings, leaving out every
    item the user interacted with in the run's data (training, validation and test): ``[(item id,
    score)]``, best first."""
    run_dir = Path(run_dir)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise SelfsupError(f"--k must be a whole number >= 1; got {k!r}.")
    _, ids, users, items = _tables(run_dir)
    lookup = {key: row for row, key in enumerate(ids["users"])}
    if str(user) not in lookup:
        from selfsup.errors import closest

        near = closest(str(user), list(lookup))
        hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
        raise SelfsupError(f"User {user!r} is not among the {len(lookup):,} users of {run_dir} (ids.json).{hint}")
    row = lookup[str(user)]
    config = load_config(run_dir / "config.yaml")
    source = load_source(config)
    task = getattr(source, "recommendation", None)
    scores = users[row] @ items.T
    seen = [split for split in (task.train, task.valid, task.test) if split is not None] if task is not None else []
    for split in seen:
        _, history = split.rows(torch.tensor([row]))
        scores[history] = -float("inf")
    best = torch.topk(scores, min(k, int(torch.isfinite(scores).sum()))).indices
    return [(ids["items"][int(i)], round(float(scores[i]), 4)) for i in best]
