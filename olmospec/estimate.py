"""How long the rest of an `olmospec run` will take: which stages will run, and for how long each.

Which stages run is DVC's decision, made as it goes; before it starts, a stage is *expected to run*
when it has no `runs/<id>/receipt.json` (it never finished), when one of its runner's code files or
its input files is newer than that receipt, or when a stage upstream of it is expected to run. As
`dvc repro` reports each stage, the expectation is corrected: a stage it runs (and everything
downstream) is added, a stage it skips removed.

A stage's time, from the first of these that exists:

1. its own receipt from an earlier run (`wall_seconds`, the runner's own time);
2. stages with the same label (`rlvr`, `eval-chat-sft`: other variants and seeds of the same spec
   block): their mean time, measured in this run if any have run, else from their receipts;
3. stages of the same runner kind (`train`, `eval`), the same way;
4. none: the stage is counted as "not estimated yet". (The mean of whatever has run so far was
   tried here; on the tiny spec's first run it priced training by the curation stages and said
   "about 2m11s left" with 40 minutes to go, and after a restart in RL "about 1h04m" with 25.)

A time taken from another stage is scaled by the ratio of the two stages' training FLOPs when the
plan knows both (midtrain after a measured pretrain). Receipts time the runner only; a stage also
costs interpreter start-up, imports and DVC's hashing, so receipt times get the mean of that
overhead (stage time seen by `olmospec run` minus its receipt's time) over the stages run so far.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Past:
    """One earlier run of a stage, from its receipt."""

    id: str
    label: str
    kind: str | None
    seconds: float


def _kind_of(receipt: dict) -> str | None:
    """The runner from the receipt's argv: `.../runners/train/__main__.py` -> `train`."""
    argv = receipt.get("argv") or []
    parts = Path(str(argv[0])).parts if argv else ()
    at = [i for i, part in enumerate(parts) if part == "runners"]
    rest = parts[at[-1] + 1:] if at else ()
    return rest[0].removesuffix(".py") if rest else None


WALL_KEYS = ("wall_seconds", "wall_time_s")  # runners.common's receipts, the training loop's


def read_receipts(root: Path, nodes: dict | None = None) -> dict[str, Past]:
    """Every `runs/<id>/receipt.json` under `root` that has a wall time; a stage's kind is its node's
    when `nodes` (the compiled graph's) has it, else the runner its argv names."""
    out: dict[str, Past] = {}
    runs = Path(root) / "runs"
    if not runs.is_dir():
        return out
    for d in runs.iterdir():
        try:
            r = json.loads((d / "receipt.json").read_text(encoding="utf-8"))
            seconds = float(next(r[k] for k in WALL_KEYS if k in r))
        except (OSError, ValueError, StopIteration, TypeError, AttributeError):
            continue
        node = (nodes or {}).get(d.name)
        out[d.name] = Past(d.name, d.name.rsplit("-", 1)[0], node.kind if node else _kind_of(r), seconds)
    return out


def _newest(root: Path, paths: list[str]) -> float:
    newest = 0.0
    for rel in paths:
        p = root / rel
        try:
            if p.is_dir():
                for dirpath, _, files in os.walk(p):
                    for f in files:
                        newest = max(newest, os.stat(os.path.join(dirpath, f)).st_mtime)
            else:
                newest = max(newest, p.stat().st_mtime)
        except OSError:
            continue
    return newest


def expected_to_run(root: Path, order: list, code: dict[str, list[str]]) -> set[str]:
    """Ids of the stages (Nodes, in pipeline order) that look out of date (see the module docstring);
    `code` maps a runner kind to its code files."""
    root = Path(root)
    out: set[str] = set()
    code_at: dict[str, float] = {}  # runner kind -> its newest code file
    for n in order:
        receipt = root / "runs" / n.id / "receipt.json"
        try:
            done_at = receipt.stat().st_mtime
        except OSError:
            out.add(n.id)
            continue
        if n.kind not in code_at:
            code_at[n.kind] = _newest(root, code.get(n.kind, []))
        if any(u in out for u in n.upstream) or max(code_at[n.kind], _newest(root, list(n.inputs))) > done_at:
            out.add(n.id)
    return out


class Estimator:
    """Stage times for the stages expected to run; learns from the stages this invocation runs."""

    def __init__(self, nodes: dict, past: dict[str, Past]):
        self.nodes = nodes
        self.past = past
        self.measured: dict[str, float] = {}  # stage id -> seconds, as `olmospec run` saw it
        self.overheads: list[float] = []

    def finished(self, sid: str, seconds: float, receipt_seconds: float | None) -> None:
        self.measured[sid] = seconds
        if receipt_seconds is not None:
            self.overheads.append(max(0.0, seconds - receipt_seconds))

    def _scaled(self, seconds: float, ref: str, sid: str) -> float:
        a, b = getattr(self.nodes.get(ref), "flops", None), getattr(self.nodes.get(sid), "flops", None)
        return seconds * b / a if a and b else seconds

    def _mean(self, sid: str, pairs: list[tuple[str, float]]) -> float | None:
        vals = [self._scaled(t, ref, sid) for ref, t in pairs]
        return sum(vals) / len(vals) if vals else None

    def seconds(self, sid: str) -> float | None:
        """The expected time of stage `sid`, or None when nothing is known yet."""
        n = self.nodes[sid]
        over = sum(self.overheads) / len(self.overheads) if self.overheads else 0.0
        if sid in self.past:
            return self.past[sid].seconds + over
        for key in ("label", "kind"):
            want = getattr(n, key)
            ran = [(i, t) for i, t in self.measured.items() if getattr(self.nodes.get(i), key, None) == want]
            est = self._mean(sid, ran)
            if est is not None:
                return est
            est = self._mean(sid, [(p.id, p.seconds) for p in self.past.values() if getattr(p, key) == want])
            if est is not None:
                return est + over
        return None

    def remaining(self, ids: list[str]) -> tuple[float, int]:
        """(seconds for the stages that have an estimate, how many have none)."""
        total, unknown = 0.0, 0
        for sid in ids:
            s = self.seconds(sid)
            if s is None:
                unknown += 1
            else:
                total += s
        return total, unknown


def duration(seconds: float) -> str:
    """3.2s, 45s, 2m03s, 1h02m."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"
