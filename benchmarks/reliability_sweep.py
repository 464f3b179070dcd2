"""The reliability sweep of issue 19: run the adversarial suite (both lanes) and count its cases.

Each case is one bad input or fault against the CLI (``tests/reliability/``): it is good when it
gives the exit status it must (2 for a mistake, 130 for Ctrl-C, 0 for input that is fine), one
line naming the thing, no traceback, and leaves every file that existed before as it was.

    python benchmarks/reliability_sweep.py

prints a table by group and the line for RESULTS.md ("reliability sweep: N cases, N good").
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def group_of(case: ET.Element) -> str:
    name, module = case.get("name", ""), case.get("classname", "").rsplit(".", 1)[-1]
    function = name.split("[")[0]
    if function.endswith("_case"):  # a parametrised Case: test_<group>_case[id]
        return function.removeprefix("test_").removesuffix("_case")
    return module.removeprefix("test_") + " (plain tests)"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "sweep.xml"
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "slow or not slow",
                        "tests/reliability", f"--junitxml={report}"], cwd=ROOT, check=False)
        cases = ET.parse(report).getroot().iter("testcase")
        total, good, skipped = Counter(), Counter(), Counter()
        for case in cases:
            group = group_of(case)
            if case.find("skipped") is not None:
                skipped[group] += 1
                continue
            total[group] += 1
            good[group] += case.find("failure") is None and case.find("error") is None
    print("\n| group | cases | good |\n|---|---:|---:|")
    for group in sorted(total):
        print(f"| {group} | {total[group]} | {good[group]} |")
    if skipped:
        print(f"\nskipped (need root and setpriv): {sum(skipped.values())}")
    print(f"\nreliability sweep: {sum(total.values())} cases, {sum(good.values())} good")
    return 0 if total == good else 1


if __name__ == "__main__":
    sys.exit(main())
