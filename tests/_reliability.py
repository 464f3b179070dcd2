"""The adversarial suite's harness: run one ``selfsup`` command line the way a user would and
check what a user would see and what is left on disk.

A :class:`Case` is a command line with placeholders (``{tmp}`` the test's folder, ``{good}``
a small image ``.npz``, ``{series}`` a small series ``.npz``, ``{run}`` a finished run, copied
for the test), the exit status it must give and a pattern its one ``error:`` line must hold.
Every case checks:

- the exit status (2 for a mistake, 130 for Ctrl-C, 0 for accepted input);
- no traceback, and a failure says exactly one line starting with ``error:`` (``interrupted:``
  for Ctrl-C) that matches;
- the files: everything that existed before is byte-identical afterwards (except the paths a
  case names in ``may_change``), and a failed command leaves no new file behind.
"""

from __future__ import annotations

import hashlib
import io
import re
import shutil
import sys
from collections.abc import Callable
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from selfsup.cli import run

# Keeps a run small: one epoch on 64 samples, only the evaluation the checks need.
QUICK = ["--epochs", "1", "--no-progress", "--set", "eval.random_init=false", "--set", "eval.raw_input=false",
         "--set", "eval.every_n_epochs=0"]


@dataclass
class Case:
    """One adversarial command and what it must do."""

    id: str
    args: str | list[str]  # a string is split on spaces; placeholders are filled in
    says: str = ""  # regular expression the error (or, for exit 0, the warning) line must match
    exit: int = 2
    setup: Callable[[Path], None] | None = None  # prepares files in the test's folder
    may_change: tuple[str, ...] = ()  # paths (relative to the test's folder) the command may write
    patch: Callable[[pytest.MonkeyPatch, Path], None] | None = None  # fault injection

    def __str__(self) -> str:
        return self.id


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    before: dict[str, str]
    after: dict[str, str]
    error: BaseException | None = field(default=None)


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) with the hash of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def fill(text: str, places: dict[str, str]) -> str:
    for key, value in places.items():
        text = text.replace("{" + key + "}", value)
    return text


def invoke(argv: list[str]) -> tuple[int, str, str, BaseException | None]:
    """Run the command line in this process, as the console entry would; stdout, stderr and
    any exception that escaped (none should)."""
    out, err = io.StringIO(), io.StringIO()
    escaped = None
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = run(argv)
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        except BaseException as error:  # noqa: BLE001 - a traceback is what the suite looks for
            escaped, code = error, 1
    return code, out.getvalue(), err.getvalue(), escaped


def check(case: Case, tmp: Path, places: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Outcome:
    """Run ``case`` in ``tmp`` and assert everything the module docstring lists."""
    if case.setup is not None:
        case.setup(tmp)
    if case.patch is not None:
        case.patch(monkeypatch, tmp)
    args = case.args.split() if isinstance(case.args, str) else list(case.args)
    argv = [fill(a, places) for a in args]
    before = snapshot(tmp)
    code, stdout, stderr, escaped = invoke(argv)
    after = snapshot(tmp)
    shown = f"$ selfsup {' '.join(argv)}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    assert escaped is None, f"an exception escaped: {escaped!r}\n{shown}"
    assert "Traceback" not in stdout + stderr, shown
    assert code == case.exit, f"exit {code}, expected {case.exit}\n{shown}"
    prefix = "interrupted:" if case.exit == 130 else "error:"
    errors = [line for line in stderr.splitlines() if line.startswith(prefix)]
    if case.exit != 0:
        assert len(errors) == 1, f"expected one error line\n{shown}"
        assert len(stderr.strip().splitlines()) == len(errors) + stderr.count("\nwarning:") + stderr.startswith("warning:"), \
            f"the error is not one line\n{shown}"
        if case.says:
            assert re.search(case.says, errors[0], re.IGNORECASE), f"error does not match {case.says!r}\n{shown}"
    else:
        assert not errors, shown
        if case.says:  # a warning: on stderr, or among the notes under the results (wrapped)
            said = " ".join((stderr + " " + stdout).split())
            assert re.search(case.says, said, re.IGNORECASE), f"no warning matching {case.says!r}\n{shown}"
    allowed = set(case.may_change)

    def free(path: str) -> bool:
        return any(path == a or path.startswith(a.rstrip("/") + "/") for a in allowed)

    changed = [p for p, h in before.items() if after.get(p) != h and not free(p)]
    assert not changed, f"files changed or removed: {changed}\n{shown}"
    if case.exit != 0:
        new = [p for p in after if p not in before and not free(p)]
        assert not new, f"a failed command left new files: {new}\n{shown}"
    return Outcome(code, stdout, stderr, before, after, escaped)


# ----------------------------------------------------------------------------- data on disk


def image_arrays(n: int = 64, size: int = 8, classes: int = 4) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = (rng.integers(0, 60, size=(n, size, size)) + 40 * y[:, None, None]).astype(np.uint8)
    return x, y


def series_arrays(n: int = 48, length: int = 32, channels: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(n) % 3
    t = np.linspace(0, 6.28, length)
    x = np.sin(t[None, :, None] * (1 + y[:, None, None])) + 0.1 * rng.standard_normal((n, length, channels))
    return x.astype(np.float32), y  # [N, T, C]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """One finished run on ``good.npz``, made once; tests get a copy (``run`` fixture)."""
    folder = tmp_path_factory.mktemp("trained")
    x, y = image_arrays()
    np.savez(folder / "good.npz", x=x, y=y)
    code, out, err, escaped = invoke(["pretrain", "--data", str(folder / "good.npz"), "--modality", "image",
                                      "--out", str(folder / "run"), *QUICK])
    assert code == 0 and escaped is None, out + err
    return folder / "run"


@pytest.fixture
def places(tmp_path: Path, trained_run: Path) -> dict[str, str]:
    """The placeholders of a case, with fresh copies of the data and the run in ``tmp_path``."""
    x, y = image_arrays()
    np.savez(tmp_path / "good.npz", x=x, y=y)
    sx, sy = series_arrays()
    np.savez(tmp_path / "series.npz", x=sx, y=sy)
    shutil.copytree(trained_run, tmp_path / "run")
    return {"tmp": str(tmp_path), "good": str(tmp_path / "good.npz"), "series": str(tmp_path / "series.npz"),
            "run": str(tmp_path / "run"), "python": sys.executable}


def run_cases(cases: list[Case]) -> Callable:
    """A parametrised test over ``cases`` (each case's id is its test id)."""
    ids = [c.id for c in cases]
    assert len(set(ids)) == len(ids), "case ids must be distinct"

    @pytest.mark.parametrize("case", cases, ids=ids)
    def test(case: Case, tmp_path: Path, places: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
        check(case, tmp_path, places, monkeypatch)

    return test
