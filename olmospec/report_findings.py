"""`rows = findings`: one row per published claim, measured on this flow's outputs.

A finding compares two arms, each a variant at one of its stages (`measure = base.rlvr`,
`against = base.dpo`), on one task and metric, over an item subset:

- every seed the arm's variant ran counts (an eval shared by several seeds counts once); the
  delta is `measure - against`, the mean over each arm's seeds of its mean over the items both arms
  scored; when both arms ran the same seeds (two or more) the seeds are paired, otherwise each arm's
  seeds are resampled on their own;
- the interval is `report_stats.bootstrap_delta`'s two-level (seeds x items) bootstrap, seeded;
- the measured sign is "higher" or "lower" when the interval excludes 0, else "none" (no
  significant difference); it agrees when it equals the expected sign (`expect = no_gain`: when it
  is not "higher");
- `items = flagged | answer_seen | clean` restricts the items to those the contamination checks
  behind either arm's model found (any way | with their answer | in neither way), so both arms
  are scored on one set;
- `relative_to = clean` (or another subset) makes it a difference in differences: each arm's value
  is its mean on `items` minus its mean on the `relative_to` items, and the delta is `measure -
  against` of those gaps (`report_stats.bootstrap_delta_of_deltas`, the items of each subset drawn
  on their own). Two models trained on different data differ on every item; on the contaminated
  items that difference is there too, and only the difference beyond it is the contamination's.

The row keeps the claim and its public source, so a reader can check what was claimed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from olmospec.report_stats import Delta, bootstrap_delta, bootstrap_delta_of_deltas, mean_sd


@dataclass
class Side:
    label: str  # VARIANT.STAGE
    seeds: list[int | None] = field(default_factory=list)
    evals: list[str] = field(default_factory=list)
    mean: float | None = None  # over seeds, of the mean over the compared items (minus relative_to's)
    sd: float | None = None
    missing: int = 0  # evals not run yet


@dataclass
class FindingRow:
    name: str
    claim: str
    source: str | None
    task: str
    metric: str | None
    items: str
    expect: str
    measure: Side
    against: Side
    n_items: int = 0
    relative_to: str | None = None
    n_relative: int = 0  # items of the relative_to subset
    delta: Delta | None = None
    paired: bool = False
    stale: bool = False
    why_na: str | None = None

    @property
    def measured(self) -> str | None:
        """higher | lower | none (the interval contains 0), or None when not measured."""
        if self.delta is None:
            return None
        return "none" if not self.delta.significant else ("higher" if self.delta.estimate > 0 else "lower")

    @property
    def agrees(self) -> bool | None:
        if self.measured is None:
            return None
        if self.expect == "no_gain":  # "brings no gain": a significant drop agrees too
            return self.measured in ("none", "lower")
        return self.measured == self.expect


def _arm_sources(groups: dict[str, list[dict]], arm: dict, task: str) -> tuple[list[int | None], list[dict | None]]:
    """(seeds, evals) of the members of the arm's variant, one entry per eval (None: not compiled)."""
    seeds: list[int | None] = []
    evs: list[dict | None] = []
    for r in groups.get(arm["variant"], []):
        ev = next((e for e in r["evals"] if e["stage"] == arm["stage"] and task in e.get("columns", [])), None)
        if ev is not None and any(e is not None and e["id"] == ev["id"] for e in evs):
            continue  # one eval shared by several seeds
        seeds.append(r["seed"])
        evs.append(ev)
    return seeds, evs


def _metric_name(out, evs: list[dict], task: str, metric: str | None) -> str | None:
    if metric or task.startswith("ruler@"):
        return metric or "score"
    for ev in evs:
        m = out.get(f"{ev['dir']}/metrics.json")
        if m and task in m.get("tasks", {}):
            return m["tasks"][task].get("metric")
    return None


def _subset(out, evs: list[dict], task: str, kind: str, evaluated: set[str]) -> set[str] | None:
    if kind == "all":
        return evaluated
    found = [out.found(ev, task) for ev in evs]
    if all(f is None for f in found):
        return None
    flagged = set().union(*(f[0] for f in found if f))
    seen = set().union(*(f[1] for f in found if f))
    return {"flagged": flagged & evaluated, "answer_seen": seen & evaluated, "clean": evaluated - flagged}[kind]


def build_findings(cfg: dict[str, Any], out, stale: set[str]) -> list[FindingRow]:
    groups: dict[str, list[dict]] = {}
    for r in cfg["rows"]:
        groups.setdefault(r["group"], []).append(r)
    return [_finding(f, groups, out, stale) for f in cfg["report"].get("findings", [])]


def _finding(f: dict, groups: dict[str, list[dict]], out, stale: set[str]) -> FindingRow:
    task = f["task"]
    arms = {}
    for side in ("measure", "against"):
        seeds, evs = _arm_sources(groups, f[side], task)
        arms[side] = (Side(f"{f[side]['variant']}.{f[side]['stage']}", seeds, [e["id"] for e in evs if e]), evs)
    all_evs = [e for _, evs in arms.values() for e in evs if e is not None]
    row = FindingRow(f["name"], f["claim"], f.get("source"), task, _metric_name(out, all_evs, task, f.get("metric")),
                     f.get("items", "all"), f["expect"], arms["measure"][0], arms["against"][0],
                     relative_to=f.get("relative_to"), stale=any(e["id"] in stale for e in all_evs))
    scores = {}
    for side, (s, evs) in arms.items():
        got = [out.items(ev, task, row.metric) if ev is not None else None for ev in evs]
        s.missing = sum(g is None for g in got)
        scores[side] = [g for g in got if g is not None]
    if not scores["measure"] or not scores["against"]:
        row.why_na = "not run yet"
        return row
    evaluated = set.intersection(*(set(g) for g in scores["measure"] + scores["against"]))
    items = _subset(out, all_evs, task, row.items, evaluated)
    if items is None:
        row.why_na = "no contamination ids (the evals ran without contamination = check)"
        return row
    common = sorted(items)
    row.n_items = len(common)
    if not common:
        row.why_na = f"no {row.items.replace('_', ' ')} items"
        return row
    mat = {side: np.array([[g[i] for i in common] for g in scores[side]]) for side in scores}
    ref = None
    if row.relative_to is not None:
        others = sorted(_subset(out, all_evs, task, row.relative_to, evaluated) or ())
        row.n_relative = len(others)
        if not others:
            row.why_na = f"no {row.relative_to.replace('_', ' ')} items to compare with"
            return row
        ref = {side: np.array([[g[i] for i in others] for g in scores[side]]) for side in scores}
    for side, (s, _) in arms.items():
        gap = mat[side].mean(axis=1) - (ref[side].mean(axis=1) if ref else 0.0)
        s.mean, s.sd = mean_sd([float(x) for x in gap])
    complete = not row.measure.missing and not row.against.missing
    row.paired = complete and len(row.measure.seeds) >= 2 and row.measure.seeds == row.against.seeds
    if ref is None:
        row.delta = bootstrap_delta(mat["measure"], mat["against"], paired_seeds=row.paired)
    else:
        row.delta = bootstrap_delta_of_deltas(mat["measure"], mat["against"], ref["measure"], ref["against"],
                                              paired_seeds=row.paired)
    return row


def finding_json(r: FindingRow) -> dict[str, Any]:
    d = None if r.delta is None else {"estimate": r.delta.estimate, "low": r.delta.low, "high": r.delta.high}
    side = {k: {"arm": s.label, "mean": s.mean, "sd": s.sd, "seeds": len(s.evals) - s.missing, "evals": s.evals}
            for k, s in (("measure", r.measure), ("against", r.against))}
    return {"finding": r.name, "claim": r.claim, "source": r.source, "task": r.task, "metric": r.metric,
            "items": r.items, "n_items": r.n_items, "relative_to": r.relative_to, "n_relative": r.n_relative,
            **side, "delta": d, "paired_seeds": r.paired, "measured": r.measured, "expected": r.expect, "agrees": r.agrees, "stale": r.stale, "why_na": r.why_na}
