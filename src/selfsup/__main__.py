"""``python -m selfsup`` is the ``selfsup`` command."""

from selfsup.cli import app

if __name__ == "__main__":
    app()
