"""Run one benchmark function in a fresh single-threaded Python process.

Small models do not speed up with more threads, and two multi-threaded PyTorch processes on a
2-core machine slow each other down many times over; so each benchmark run gets a process of its
own with one thread, and ``--jobs`` of them run side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent


def call_isolated(module: str, function: str, *args: object) -> dict:
    """``benchmarks/<module>.py``'s ``function(*args)`` (JSON-able in and out) in a new process.

    Returns the function's dict, or ``{"error": [last lines of stderr]}`` when it failed.
    """
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    code = (
        "import json, sys, torch; torch.set_num_threads(1); "
        f"sys.path.insert(0, {str(BENCHMARKS)!r}); import {module}; "
        f"print('RESULT ' + json.dumps({module}.{function}(*json.loads(sys.argv[1]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(list(args))], env=env, capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        return {"error": done.stderr.strip().splitlines()[-5:]}
    return json.loads(lines[-1][len("RESULT "):])
