"""The layout rules of ARCHITECTURE.md, enforced: the core never imports a modality package, and a
missing optional dependency affects its modality alone."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "selfsup"
CORE = ("losses", "methods", "nn", "engine", "eval", "views", "encoders", "data")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("package", CORE)
def test_core_package_never_imports_a_modality_package(package):
    offending = [
        f"{path.relative_to(SRC)}: {name}"
        for path in sorted((SRC / package).rglob("*.py"))
        for name in _imports(path)
        if name.startswith("selfsup.modalities")
    ]
    assert not offending, "core modules import modality packages:\n" + "\n".join(offending)


def test_no_private_name_is_imported_across_modules():
    offending = []
    for path in sorted(SRC.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("selfsup"):
                offending += [f"{path.relative_to(SRC)}: {node.module}.{a.name}"
                              for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    assert not offending, "private names imported across modules:\n" + "\n".join(offending)


def test_every_modality_is_a_package_with_a_typed_spec():
    from selfsup.modality import ModalitySpec, get_modality, package_names

    assert {"image", "timeseries"} <= set(package_names())
    for name in package_names():
        spec = get_modality(name)
        assert isinstance(spec, ModalitySpec) and spec.name == name


_BLOCK_AEON = """
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "aeon" or name.startswith("aeon."):
            raise ModuleNotFoundError("No module named 'aeon'", name="aeon")
        return None
sys.meta_path.insert(0, Block())
"""


def _run_without_aeon(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _BLOCK_AEON + code], capture_output=True, text=True, timeout=120)


@pytest.mark.slow  # an end-to-end run of several seconds
def test_import_selfsup_and_list_methods_work_without_aeon():
    done = _run_without_aeon(
        "import selfsup\n"
        "from typer.testing import CliRunner\n"
        "from selfsup.cli import app\n"
        "r = CliRunner().invoke(app, ['methods'])\n"
        "assert r.exit_code == 0, r.output\n"
        "assert 'ts2vec' in r.output and 'simclr' in r.output\n"
        "print('ok')\n"
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr


@pytest.mark.slow  # an end-to-end run of several seconds
def test_a_ucr_set_without_aeon_is_one_line_naming_the_extra(tmp_path):
    done = _run_without_aeon(
        "from typer.testing import CliRunner\n"
        "from selfsup.cli import app\n"
        f"r = CliRunner().invoke(app, ['pretrain', '--data', 'ucr:GunPoint', '--method', 'ts2vec', '--out', r'{tmp_path / 'run'}'])\n"
        "print(r.exit_code); print(r.output)\n"
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "2", done.stdout + done.stderr
    message = " ".join(lines[1:])
    assert "selfsup[timeseries]" in message and "Traceback" not in done.stdout + done.stderr
    assert not (tmp_path / "run").exists()
