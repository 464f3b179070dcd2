"""``python -m selfsup`` is the ``selfsup`` command."""

import sys

from selfsup.cli import run

if __name__ == "__main__":
    sys.exit(run())
