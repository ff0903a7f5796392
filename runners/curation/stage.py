"""The file plumbing shared by the dedup runs: a work folder, per-shard tasks, and final outputs.

A run (`run_exact`, `run_minhash`, `run_substring`) has the same three phases:

1. map, per shard and in parallel: read the shard (rejects go to a per-shard file), compute what
   the global decision needs (hashes, signatures, bytes) and write it under `<work>/map/`;
2. reduce, once: read every shard's map output and decide what to remove or cut, per shard;
3. apply, per shard and in parallel: read the shard again and write kept and removed documents.

Map and apply tasks leave completion markers (see `executor.run_tasks`), so a killed run resumes.
The work folder (default `<output>.work`) is tied to the run's identity (step, parameters, input
files with their sizes and mtimes): if any of them changed, the stale folder is wiped rather than
resumed. The final outputs are assembled from the per-shard files and written atomically:

    OUTPUT                   kept documents, every input field kept (format from the suffix)
    OUTPUT's .removed.jsonl  {"id", "reason", "detail"} for each removed document
    OUTPUT's .rejects.jsonl  {"id", "reason", "file", "line"} for each unreadable record
    OUTPUT's .stats.json     counts per reason and the step's own statistics
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task, make_executor, run_tasks
from runners.curation.io import (
    Reject,
    atomic_path,
    doc_suffix,
    iter_jsonl,
    list_shards,
    read_shard,
    sibling,
    write_docs,
    write_jsonl,
)


@dataclass(frozen=True, slots=True)
class Stage:
    """One run's shards, output and work folder."""

    step: str
    shards: tuple[str, ...]
    output: str
    work: Path
    text_field: str
    id_field: str
    executor: Executor  # where the map and apply phases run (local processes or Ray)

    def path(self, phase: str, index: int, what: str) -> str:
        return str(self.work / phase / f"{index:05d}.{what}")

    def tasks(self, phase: str, **extra: Any) -> list[Task]:
        (self.work / phase).mkdir(parents=True, exist_ok=True)
        return [
            {
                "name": f"{i:05d}",
                "index": i,
                "path": shard,
                "text_field": self.text_field,
                "id_field": self.id_field,
                "dir": str(self.work / phase),
                **extra,
            }
            for i, shard in enumerate(self.shards)
        ]

    def run(self, fn: Any, phase: str, **extra: Any) -> list[Summary]:
        return run_tasks(self.executor, fn, self.tasks(phase, **extra), self.work / "markers" / phase)


def prepare(
    step: str,
    input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
    output: str | os.PathLike,
    params: dict[str, Any],
    *,
    text_field: str = "text",
    id_field: str = "id",
    work_dir: str | os.PathLike | None = None,
    executor: Executor | str | None = None,
    workers: int | None = None,
) -> Stage:
    """Expand the inputs, and create (or reuse, if it belongs to this very run) the work folder."""
    if isinstance(input_paths, (str, os.PathLike)):
        input_paths = [input_paths]
    doc_suffix(output)  # fail early on an output format we cannot write
    shards = tuple(list_shards(input_paths))
    work = Path(work_dir) if work_dir is not None else Path(f"{output}.work")
    identity = {
        "step": step,
        "params": params,
        "text_field": text_field,
        "id_field": id_field,
        "shards": [_fingerprint(s) for s in shards],
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    stamp = work / "identity.json"
    if work.exists() and (not stamp.exists() or json.loads(stamp.read_text()).get("digest") != digest):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        with atomic_path(stamp) as tmp:
            Path(tmp).write_text(json.dumps({"digest": digest, **identity}, sort_keys=True, indent=1))
    return Stage(step, shards, str(output), work, text_field, id_field, executor_for(executor, workers))


def _fingerprint(shard: str) -> list[Any]:
    path = Path(shard)
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    return [shard, [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]]


def executor_for(executor: Executor | str | None, workers: int | None) -> Executor:
    if executor is None or isinstance(executor, str):
        return make_executor(executor or "local", workers)
    return executor


# -- the per-shard pieces every step shares ----------------------------------------------------


def read_task_shard(task: Task) -> tuple[list[Doc], list[Reject]]:
    """Read a task's shard; the map phase also writes its rejects (apply re-reads, ignoring them)."""
    return read_shard(task["path"], text_field=task["text_field"], id_field=task["id_field"])


def write_rejects(task: Task, rejects: list[Reject]) -> None:
    write_jsonl(Path(task["dir"]) / f"{task['name']}.rejects.jsonl", (r.to_json() for r in rejects))


def apply_removals(docs: list[Doc], removals: dict[int, Removed]) -> StepResult:
    """Split a shard's documents (by position) into kept and removed; counts per reason."""
    result = StepResult()
    for pos, doc in enumerate(docs):
        gone = removals.get(pos)
        if gone is None:
            result.kept.append(doc)
        else:
            result.removed.append(gone)
    result.stats = {"docs_in": len(docs), "docs_kept": len(result.kept), **result.reason_counts()}
    return result


def write_result(task: Task, result: StepResult) -> Summary:
    """Write one shard's kept and removed documents under the task's folder."""
    base = Path(task["dir"]) / task["name"]
    write_jsonl(f"{base}.removed.jsonl", (r.to_json() for r in result.removed))
    write_jsonl(f"{base}.kept.jsonl", result.kept)
    return {
        "docs_in": len(result.kept) + len(result.removed),
        "docs_kept": len(result.kept),
        "removed": result.reason_counts(),
        **{k: v for k, v in result.stats.items() if k in ("bytes_in", "bytes_removed", "docs_modified")},
    }


def load_removals(path: str | os.PathLike) -> dict[int, Removed]:
    """A shard's removal decisions as the reduce phase wrote them (position -> Removed)."""
    raw = json.loads(Path(path).read_text())
    return {int(pos): Removed(doc_id, reason, detail) for pos, (doc_id, reason, detail) in raw.items()}


def save_removals(path: str | os.PathLike, removals: dict[int, Removed]) -> None:
    data = {str(pos): [r.id, r.reason, r.detail] for pos, r in sorted(removals.items())}
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data))


def apply_task(task: Task) -> Summary:
    """Apply phase for steps that only remove whole documents (exact, MinHash)."""
    docs, _ = read_task_shard(task)
    decisions = Path(task["decisions_dir"]) / f"{task['name']}.json"
    return write_result(task, apply_removals(docs, load_removals(decisions)))


# -- final outputs -----------------------------------------------------------------------------


def finish(
    stage: Stage,
    map_summaries: list[Summary],
    apply_summaries: list[Summary],
    step_stats: dict[str, Any],
    *,
    keep_work: bool = False,
) -> dict[str, Any]:
    """Assemble the outputs and `stats.json` from the per-shard files; return the stats."""
    n = len(stage.shards)
    apply_dir = stage.work / "apply"
    map_dir = stage.work / "map"
    kept_files = [apply_dir / f"{i:05d}.kept.jsonl" for i in range(n)]
    _concat(stage.output, kept_files)
    write_jsonl(
        sibling(stage.output, "removed"), _chain(apply_dir / f"{i:05d}.removed.jsonl" for i in range(n))
    )
    write_jsonl(
        sibling(stage.output, "rejects"), _chain(map_dir / f"{i:05d}.rejects.jsonl" for i in range(n))
    )
    removed: Counter[str] = Counter()
    for s in apply_summaries:
        removed.update(s["removed"])
    rejects = Counter(r["reason"] for r in _chain(map_dir / f"{i:05d}.rejects.jsonl" for i in range(n)))
    stats = {
        "step": stage.step,
        "shards": n,
        "shards_resumed": {
            "map": sum(bool(s.get("resumed")) for s in map_summaries),
            "apply": sum(bool(s.get("resumed")) for s in apply_summaries),
        },
        "docs_in": sum(s["docs_in"] for s in apply_summaries),
        "docs_kept": sum(s["docs_kept"] for s in apply_summaries),
        "docs_removed": sum(removed.values()),
        "removed_by_reason": dict(sorted(removed.items())),
        "rejects": sum(rejects.values()),
        "rejects_by_reason": dict(sorted(rejects.items())),
        # NOTE: per shard, so that a step eating one source (marin#6854) shows up in the stats
        "per_shard": [
            {"shard": shard, "docs_in": s["docs_in"], "docs_kept": s["docs_kept"], "removed": s["removed"]}
            for shard, s in zip(stage.shards, apply_summaries, strict=True)
        ],
        **step_stats,
    }
    with atomic_path(f"{stage.output[: -len(doc_suffix(stage.output))]}.stats.json") as tmp:
        Path(tmp).write_text(json.dumps(stats, indent=1, sort_keys=True))
    if not keep_work:
        shutil.rmtree(stage.work, ignore_errors=True)
    return stats


def _chain(paths: Iterable[Path]) -> Iterable[dict[str, Any]]:
    for p in paths:
        yield from iter_jsonl(p)


def _concat(output: str, files: list[Path]) -> None:
    if doc_suffix(output) == ".jsonl":
        # NOTE: plain jsonl is byte-concatenated: no re-parsing of what we wrote ourselves
        with atomic_path(output) as tmp, open(tmp, "wb") as out:
            for f in files:
                with open(f, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
    else:
        write_docs(output, _chain(files))
