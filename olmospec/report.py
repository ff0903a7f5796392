"""Result tables from a pipeline's outputs: `olmospec report SPEC` and the report stage share this.

A report block says what the table is (`rows = variants | stages`, `columns = [task, ruler(LEN)]`,
`baseline`). The report stage's config lists, for every variant, its eval and training stages in
pipeline order; this module reads their `metrics.json` and `scores.json` (never a spec, never a
model) and builds one `Table`:

- a cell is the mean over seeds (variants named `NAME@seedN` form one row) with the standard
  deviation over seeds; values are percentages (RULER is already on a 0-100 scale);
- rows = variants: a column's value comes from the last stage in pipeline order whose eval runs that
  task, and every row but the baseline gets a delta against it with a two-level (seeds x items)
  bootstrap interval (`report_stats`); a delta whose interval contains 0 is marked "no significant
  difference";
- rows = stages: one row per evaluated stage of the baseline variant, in pipeline order;
- a cell is flagged contaminated when the contamination check of its model's training data found
  items of that benchmark: it counts the items found with their answer (`answer_seen`) apart from
  those matched on their question only (template siblings, most often), and gives the score on the
  items found in neither way (the clean subset, GPT-3's clean-subset analysis); it is stale when
  `dvc status` says that one of its stages (or a stage upstream of it) is out of date; a cell whose
  eval has not run is "n/a";
- a variant whose last eval of a task is at another stage than the baseline's (a data ablation that
  stops at the base model) is compared with the baseline's eval at that stage, marked "@stage";
- an eval shared by several seeds (a stage before `seeds_from`) counts once in its row.

`rows = findings` tables are built by `report_findings`. Rendering is in `report_render`, plots in
`report_plots` (matplotlib, imported only there).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from olmospec.report_stats import Delta, bootstrap_delta, mean_sd


@dataclass
class Cell:
    values: list[float] = field(default_factory=list)  # one per seed that has run
    mean: float | None = None
    sd: float | None = None
    delta: Delta | None = None
    contaminated: dict[str, int] = field(default_factory=dict)  # training stage -> items found
    flagged: int = 0  # evaluated items the contamination checks found (any way)
    answer_seen: int = 0  # of them, found with their answer
    clean_items: int = 0
    clean_mean: float | None = None  # mean over seeds of the score on the items not found
    stale: bool = False
    at: str | None = None  # the stage measured, when it is not the baseline's (the delta compares there)
    missing: int = 0  # seeds whose eval has not run
    evals: list[str] = field(default_factory=list)


@dataclass
class Row:
    label: str
    kind: str
    seeds: list[int | None]
    cells: dict[str, Cell]


@dataclass
class Table:
    name: str
    rows_kind: str
    columns: list[str]
    baseline: str | None
    rows: list[Row]
    curves: dict[str, Any] = field(default_factory=dict)  # for the plots
    provenance: dict[str, Any] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)  # report_findings.FindingRow, for rows = findings


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


class _Outputs:
    """Cached reads of eval outputs under the project root."""

    def __init__(self, root: Path):
        self.root = root
        self.cache: dict[str, Any] = {}

    def get(self, rel: str) -> dict | None:
        if rel not in self.cache:
            self.cache[rel] = _read_json(self.root / rel)
        return self.cache[rel]

    def value(self, ev: dict, column: str) -> float | None:
        m = self.get(f"{ev['dir']}/metrics.json")
        if m is None:
            return None
        if column.startswith("ruler@"):
            v = m.get("ruler", {}).get("by_length", {}).get(column.split("@", 1)[1])
            return None if v is None else float(v)
        v = m.get("tasks", {}).get(column, {}).get("value")
        return None if v is None else 100.0 * float(v)

    def items(self, ev: dict, column: str, metric: str | None = None) -> dict[str, float] | None:
        """Item id -> score of one column (percent; log-likelihoods in nats), for the bootstrap;
        `metric` defaults to the task's own."""
        m, s = self.get(f"{ev['dir']}/metrics.json"), self.get(f"{ev['dir']}/scores.json")
        if m is None or s is None:
            return None
        if column.startswith("ruler@"):
            length = column.split("@", 1)[1]
            out = {}
            for name, sc in sorted(s.items()):
                if name.startswith("ruler_") and name.endswith(f"_{length}") and "score" in sc:
                    out |= {f"{name}/{i}": v for i, v in zip(sc["ids"], sc["score"], strict=True)}
            return out or None
        metric = metric or m.get("tasks", {}).get(column, {}).get("metric")
        sc = s.get(column, {})
        if metric not in sc:
            return None
        scale = scale_of(metric)
        return {i: scale * v for i, v in zip(sc["ids"], sc[metric], strict=True)}

    def found(self, ev: dict, column: str) -> tuple[set[str], set[str]] | None:
        """(items found, items found with their answer) in the training data behind `ev`'s model, over
        every training stage; None when the eval has no contamination ids (not checked)."""
        c = self.get(f"{ev['dir']}/contamination.json")
        if c is None or column.startswith("ruler@"):
            return None
        per_stage = c.get(column, {})
        return ({i for r in per_stage.values() for i in r.get("found", [])},
                {i for r in per_stage.values() for i in r.get("answer_seen", [])})

    def contamination(self, ev: dict, column: str) -> dict[str, int]:
        m = self.get(f"{ev['dir']}/metrics.json") or {}
        per_stage = m.get("contamination", {}).get(column, {})
        return {st: r["items_found"] for st, r in sorted(per_stage.items()) if r.get("items_found")}


def scale_of(metric: str | None) -> float:
    """Accuracies are shown in percent; a log-likelihood keeps its unit (nats)."""
    return 1.0 if metric == "gold_logprob" else 100.0


def unique(sources: list[dict | None]) -> list[dict | None]:
    """The sources without repeats of one eval (a stage before `seeds_from` is one eval for all seeds)."""
    seen: set[str] = set()
    out = []
    for ev in sources:
        if ev is not None and ev["id"] in seen:
            continue
        if ev is not None:
            seen.add(ev["id"])
        out.append(ev)
    return out


def _stage_of(sources: list[dict | None]) -> str | None:
    stages = {ev["stage"] for ev in sources if ev is not None}
    return next(iter(stages)) if len(stages) == 1 else None


def _at_stage(evals: list[dict], column: str, stage: str) -> dict | None:
    return next((e for e in evals if e["stage"] == stage and column in e.get("columns", [])), None)


def _source(evals: list[dict], column: str) -> dict | None:
    """The eval that provides `column` in a variant: the last in pipeline order that runs it."""
    hits = [e for e in evals if column in e.get("columns", [])]
    return hits[-1] if hits else None


def _cell(out: _Outputs, sources: list[dict | None], column: str, stale: set[str]) -> Cell:
    c = Cell()
    sources = unique(sources)
    for ev in sources:
        if ev is None:
            continue
        c.evals.append(ev["id"])
        v = out.value(ev, column)
        if v is None:
            c.missing += 1
            continue
        c.values.append(v)
        for st, n in out.contamination(ev, column).items():
            c.contaminated[st] = max(c.contaminated.get(st, 0), n)
        c.stale |= ev["id"] in stale
    c.mean, c.sd = mean_sd(c.values)
    _clean_subset(c, out, [ev for ev in sources if ev is not None], column)
    return c


def _clean_subset(c: Cell, out: _Outputs, sources: list[dict], column: str) -> None:
    """The cell's flagged and answer-seen counts, and its score on the clean items (mean over seeds)."""
    scores = [out.items(ev, column) for ev in sources]
    found = [out.found(ev, column) for ev in sources]
    if not scores or any(s is None for s in scores) or all(f is None for f in found):
        return
    evaluated = set.intersection(*(set(s) for s in scores))
    flagged = set().union(*(f[0] for f in found if f)) & evaluated
    seen = set().union(*(f[1] for f in found if f)) & evaluated
    clean = sorted(evaluated - flagged)
    c.flagged, c.answer_seen, c.clean_items = len(flagged), len(seen), len(clean)
    if clean and flagged:
        c.clean_mean = mean_sd([float(np.mean([s[i] for i in clean])) for s in scores])[0]


def _matrix(out: _Outputs, sources: list[dict | None], column: str) -> dict[str, dict[str, float]] | None:
    per_seed = [out.items(ev, column) for ev in unique(sources) if ev is not None]
    return None if not per_seed or any(p is None for p in per_seed) else dict(enumerate(per_seed))


def _delta(a: dict | None, b: dict | None) -> Delta | None:
    if not a or not b:
        return None
    common = sorted(set.intersection(*(set(s) for s in [*a.values(), *b.values()])))
    if not common:
        return None
    va = np.array([[s[i] for i in common] for s in a.values()])
    vb = np.array([[s[i] for i in common] for s in b.values()])
    return bootstrap_delta(va, vb)


def build_table(cfg: dict[str, Any], root: Path, stale: set[str] | None = None) -> Table:
    """The table of one report stage config (see the module docstring)."""
    rep = cfg["report"]
    stale = stale or set()
    out = _Outputs(root)
    groups: dict[str, list[dict]] = {}
    for r in cfg["rows"]:
        groups.setdefault(r["group"], []).append(r)
    columns = list(rep["columns"])
    baseline = rep.get("baseline") if rep["rows"] == "variants" else None
    rows: list[Row] = []
    if rep["rows"] == "findings":
        from olmospec.report_findings import build_findings

        t = Table(rep["name"], "findings", [], None, [], curves=_curves(cfg, out, groups, rep.get("baseline")))
        t.findings = build_findings(cfg, out, stale)
        return t
    if rep["rows"] == "variants":
        base_members = groups.get(baseline, [])
        base_sources = {c: [_source(r["evals"], c) for r in base_members] for c in columns}
        base_items = {c: _matrix(out, base_sources[c], c) for c in columns}
        for name, members in groups.items():
            cells = {}
            for c in columns:
                sources = [_source(r["evals"], c) for r in members]
                cell = _cell(out, sources, c, stale)
                if name != baseline:
                    against = base_items[c]
                    at = _stage_of(sources)
                    if at is not None and at != _stage_of(base_sources[c]):
                        # a variant that stops earlier (a data ablation measured on the base model) is
                        # compared with the baseline at that same stage, and the cell says which
                        cell.at = at
                        against = _matrix(out, [_at_stage(r["evals"], c, at) for r in base_members], c)
                    cell.delta = _delta(_matrix(out, sources, c), against)
                cells[c] = cell
            rows.append(Row(name, members[0]["kind"], [r["seed"] for r in members], cells))
    else:
        members = groups.get(rep.get("baseline"), []) or next(iter(groups.values()), [])
        for stage in cfg.get("stage_order", []):
            cells, any_eval = {}, False
            for c in columns:
                sources = [next((e for e in r["evals"] if e["stage"] == stage and c in e.get("columns", [])), None)
                           for r in members]
                any_eval |= any(s is not None for s in sources)
                cells[c] = _cell(out, sources, c, stale)
            if any_eval:
                rows.append(Row(stage, "stage", [r["seed"] for r in members], cells))
    return Table(rep["name"], rep["rows"], columns, baseline, rows, curves=_curves(cfg, out, groups, baseline))


def _curves(cfg: dict, out: _Outputs, groups: dict[str, list[dict]], baseline: str | None) -> dict[str, Any]:
    """Loss and reward curves of the baseline's training stages, RULER score by length per row."""
    import csv

    members = groups.get(baseline or "", []) or next(iter(groups.values()), [])
    train: dict[str, dict[str, list[float]]] = {}
    for st in (members[0]["stages"] if members else []):
        path = out.root / st["dir"] / "plots" / "train.csv"
        if not path.exists():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        curve: dict[str, list[float]] = {}
        for key in ("step", "loss", "reward"):
            vals = [r.get(key) for r in rows]
            if vals and all(v not in (None, "") for v in vals):
                curve[key] = [float(v) for v in vals]
        if "step" in curve:
            train[st["stage"]] = curve
    ruler: dict[str, dict[str, float]] = {}
    for name, rs in groups.items():
        ev = next((e for e in rs[0]["evals"] if any(c.startswith("ruler@") for c in e.get("columns", []))), None)
        m = out.get(f"{ev['dir']}/metrics.json") if ev else None
        if m and "ruler" in m:
            ruler[name] = {k: float(v) for k, v in m["ruler"]["by_length"].items()}
    return {"train": train, "ruler": ruler}


def _cell_json(c: Cell) -> dict[str, Any]:
    d = None if c.delta is None else {"estimate": c.delta.estimate, "low": c.delta.low, "high": c.delta.high,
                                      "significant": c.delta.significant}
    return {"mean": c.mean, "sd": c.sd, "values": c.values, "delta": d, "contaminated": c.contaminated,
            "stale": c.stale, "missing": c.missing, "evals": c.evals}


def table_json(t: Table) -> dict[str, Any]:
    return {"name": t.name, "rows": t.rows_kind, "columns": t.columns, "baseline": t.baseline,
            "table": [{"row": r.label, "kind": r.kind, "seeds": r.seeds,
                       "cells": {c: _cell_json(r.cells[c]) for c in t.columns}} for r in t.rows]}


FORMATS = {"markdown": "md", "latex": "tex", "html": "html", "csv": "csv"}


def write_report(cfg: dict[str, Any], root: Path, out_dir: Path, formats: list[str] | None = None,
                 stale: set[str] | None = None, plots: bool = True) -> dict[str, Path]:
    """Build the table and write one file per format (atomically each), plus plots; returns the files."""
    import os

    from olmospec.provenance import provenance
    from olmospec.report_render import RENDERERS

    table = build_table(cfg, root, stale)
    table.provenance = provenance(cfg, root)
    out_dir.mkdir(parents=True, exist_ok=True)
    images: dict[str, bytes] = {}
    if plots:
        from olmospec.report_plots import render_plots

        images = render_plots(table)
        for name, png in images.items():
            (out_dir / f"{name}.png").write_bytes(png)
    written = {}
    for fmt in formats or cfg["report"]["format"]:
        path = out_dir / f"{table.name}.{FORMATS[fmt]}"
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(RENDERERS[fmt](table, images), encoding="utf-8")
        os.replace(tmp, path)
        written[fmt] = path
    return written
