"""Adversarial cases: tables and event files through the CLI (issue 17's bad input)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from _reliability import QUICK, Case, run_cases

T = "pretrain --modality tabular --epochs 1 --no-progress --out {tmp}/r --data {tmp}/t.csv"
E = "pretrain --modality events --epochs 1 --no-progress --out {tmp}/r --data {tmp}/e.csv"


def table(rows: int = 60, **replace: list) -> str:
    rng = np.random.default_rng(0)
    columns = {"a": [f"{v:.3f}" for v in rng.normal(size=rows)], "b": [str(v) for v in rng.integers(0, 9, rows)],
               "colour": [["red", "green", "blue"][i % 3] for i in range(rows)],
               "y": [str(i % 2) for i in range(rows)]}
    columns.update(replace)
    return ",".join(columns) + "\n" + "".join(",".join(row) + "\n" for row in zip(*columns.values()))


def events(entities: int = 40, per_entity: int = 6, shuffle: bool = False, bad_time_at: int | None = None) -> str:
    rng = np.random.default_rng(0)
    lines = []
    for entity in range(entities):
        for step in range(per_entity):
            lines.append([str(entity), str(1_000 + 60 * step), ["shop", "fuel", "food"][int(rng.integers(3))],
                          f"{rng.lognormal():.2f}", str(entity % 2)])
    if shuffle:
        lines = [lines[i] for i in rng.permutation(len(lines))]
    if bad_time_at is not None:
        lines[bad_time_at][1] = "yesterday"
    return "entity_id,time,merchant,amount,label\n" + "".join(",".join(line) + "\n" for line in lines)


def write(name: str, content: str):
    def setup(tmp: Path) -> None:
        (tmp / name).write_text(content)

    return setup


CASES = [
    Case("table-all-missing-column", f"{T} --set data.options.target=y", r"'b'.*t\.csv.*missing in every row",
         setup=write("t.csv", table(b=[""] * 60))),
    Case("table-target-also-a-feature", f"{T} --set data.options.target=y --set data.options.numeric=[a,y]",
         r"\by\b", setup=write("t.csv", table())),
    Case("table-mixed-types", f"{T} --set data.options.target=y --set data.options.numeric=[a,b]", r"\bb\b",
         setup=write("t.csv", table(b=[str(i) for i in range(59)] + ["seven"]))),
    Case("table-unknown-column", f"{T} --set data.options.target=y --set data.options.categorical=[nope]",
         r"nope", setup=write("t.csv", table())),
    Case("table-unknown-target", f"{T} --set data.options.target=income", r"income", setup=write("t.csv", table())),
    Case("events-time-does-not-parse", f"{E} --set data.options.target=label", r"'yesterday' at line 19 of e\.csv",
         setup=write("e.csv", events(bad_time_at=17))),
    Case("events-entity-is-time", f"{E} --set data.options.target=label --set data.options.entity=time",
         r"entity.*time", setup=write("e.csv", events())),
    Case("events-unknown-target-builtin", "pretrain --data ml-100k-sequences --epochs 1 --out {tmp}/r "
         "--set data.options.target=income", r"target"),
    Case("events-unsorted-file-is-sorted-and-said", f"{E} {' '.join(QUICK[3:])} --set data.options.target=label "
         "--set eval.k=2 --batch-size 8", r"sort", exit=0, setup=write("e.csv", events(shuffle=True)),
         may_change=("r",)),
]

test_table_event_case = run_cases(CASES)
