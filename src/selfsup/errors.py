"""User-facing errors.

A :class:`SelfsupError` is a mistake the user can fix (a missing file, an unknown name, a
bad config key). The CLI prints its message and exits with status 2, without a traceback.
Programming errors stay ordinary exceptions.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class SelfsupError(Exception):
    """A user mistake, described in one message that says what to do."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with one line saying what was kept (the CLI prints it and exits with 130)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def closest(name: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The valid names closest to ``name`` (for "did you mean" hints)."""
    choices = list(choices)
    found = difflib.get_close_matches(name, choices, n=n, cutoff=0.5)
    if not found:
        found = [c for c in choices if name.lower() in c.lower() or c.lower() in name.lower()][:n]
    return found


def unknown_name(kind: str, name: str, choices: Iterable[str]) -> SelfsupError:
    """Build the error for an unknown ``kind`` called ``name``, naming the closest valid ones."""
    choices = sorted(choices)
    near = closest(name, choices)
    hint = f" Did you mean {', '.join(repr(c) for c in near)}?" if near else ""
    return SelfsupError(
        f"Unknown {kind} {name!r}.{hint} Valid {kind} names: {', '.join(choices)}."
    )
