"""The `report` stage: the spec's result table in every format it asks for, at the end of `dvc repro`.

    python -m runners.report --config stages/report-<name>-<hash>.json

Writes `runs/<id>/report/<name>.{md,tex,html,csv}` and the plots (PNG), and `metrics.json` with every
cell's mean (or, for `rows = findings`, every finding's delta, interval and measured sign), so
`dvc metrics show` lists the table too. The table itself is built by
`olmospec.report` (the same code as `olmospec report SPEC`); inside `dvc repro` every input was just
brought up to date, so no cell is stale here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from olmospec.report import build_table, write_report

    out = Path(cfg["output"])
    files = write_report(cfg, Path("."), out / "report")
    table = build_table(cfg, Path("."))
    if table.rows_kind == "findings":
        findings = {r.name: {"delta": r.delta.estimate if r.delta else None, "low": r.delta.low if r.delta else None,
                             "high": r.delta.high if r.delta else None, "measured": r.measured, "expected": r.expect,
                             "agrees": r.agrees} for r in table.findings}
        write_json(out / "metrics.json", {"report": table.name, "findings": findings})
    else:
        cells = {r.label: {c: r.cells[c].mean for c in table.columns} for r in table.rows}
        write_json(out / "metrics.json", {"report": table.name, "cells": cells})
    for fmt, path in files.items():
        print(f"report {table.name}: {fmt} -> {path}")
    return {}


def main(argv: list[str] | None = None) -> None:
    stage_main("report", __doc__, run, argv)


if __name__ == "__main__":
    main()
