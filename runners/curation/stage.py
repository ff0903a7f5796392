"""The file plumbing shared by the curation runs: a work folder, per-shard tasks, parts, final outputs.

A run (`run_exact`, `run_minhash`, `run_substring`, `run_docwise`, `run_upsample`) is made of
per-shard phases, each task streaming its shard record by record (memory does not grow with it):

1. map, per shard and in parallel: read the shard, write what the global decision needs (digests,
   band keys, sizes; never the texts) under `<work>/map/`, and the shard's unreadable records;
2. reduce, once: read every shard's map output and decide, per shard (the global dedup);
3. apply, per shard and in parallel: read the shard again and write its kept documents as parts
   (`parts.PartWriter`) and its removed ones. Steps that only drop whole documents copy the kept
   JSON lines through byte for byte; per-document steps (decontamination, FIM, scoring) have no map
   and decide in the apply pass, in batches.

Tasks leave completion markers (see `executor.run_tasks`), so a killed run resumes. The work folder
(default `<output>.work`) is tied to the run's identity (step, parameters, input files with their
sizes and mtimes): if any of them changed, the stale folder is wiped rather than resumed. The
outputs are assembled at the end, each written or renamed into place atomically:

    OUTPUT                   kept documents, every input field kept: a file (jsonl, .gz, .zst or
                             parquet: the parts concatenated), or a folder of parts
                             `part-SSSSS-NNN.jsonl.zst` (SSSSS the input shard, in input order)
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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task, make_executor, run_tasks
from runners.curation.io import (
    Reject,
    atomic_path,
    doc_suffix,
    dumps,
    has_doc_suffix,
    iter_jsonl,
    iter_shard,
    list_shards,
    raw_lines,
    sibling,
    write_docs,
)
from runners.curation.parts import PartWriter, concat_files

BATCH_DOCS = 1024  # documents per batch in the per-document steps (bounded memory)
BATCH_BYTES = 8 << 20


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
    suffix: str  # the parts' format: the output file's, or .jsonl.zst for a folder or parquet
    part_bytes: int  # uncompressed bytes per output part (parts.PART_BYTES unless a run says)

    @property
    def folder(self) -> bool:
        return not has_doc_suffix(self.output)

    def path(self, phase: str, index: int, what: str) -> str:
        return str(self.work / phase / f"{index:05d}.{what}")

    def tasks(self, phase: str, **extra: Any) -> list[Task]:
        for sub in (phase, "rejects"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        return [
            {"name": f"{i:05d}", "index": i, "path": shard, "text_field": self.text_field,
             "id_field": self.id_field, "dir": str(self.work / phase), "rejects": str(self.work / "rejects"),
             "suffix": self.suffix, "part_bytes": self.part_bytes, **extra}
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
    part_bytes: int | None = None,
) -> Stage:
    """Expand the inputs, and create (or reuse, if it belongs to this very run) the work folder.
    An OUTPUT with a document suffix is a file; anything else a folder of parts."""
    if isinstance(input_paths, (str, os.PathLike)):
        input_paths = [input_paths]
    from runners.curation import parts

    part_bytes = part_bytes or parts.PART_BYTES  # NOTE: read at call time, so a test can shrink it
    output = str(output)
    folder = not has_doc_suffix(output)
    suffix = ".jsonl.zst" if folder or doc_suffix(output) == ".parquet" else doc_suffix(output)
    shards = tuple(list_shards(input_paths))
    work = Path(work_dir) if work_dir is not None else Path(f"{output.rstrip('/')}.work")
    identity = {"step": step, "params": params, "text_field": text_field, "id_field": id_field,
                "part_bytes": part_bytes, "shards": [_fingerprint(s) for s in shards]}
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    stamp = work / "identity.json"
    if work.exists() and (not stamp.exists() or json.loads(stamp.read_text()).get("digest") != digest):
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    if not stamp.exists():
        with atomic_path(stamp) as tmp:
            Path(tmp).write_text(json.dumps({"digest": digest, **identity}, sort_keys=True, indent=1))
    return Stage(step, shards, output.rstrip("/") if folder else output, work, text_field, id_field,
                 executor_for(executor, workers), suffix, part_bytes)


def _fingerprint(shard: str) -> list[Any]:
    path = Path(shard)
    files = sorted(f for f in path.rglob("*") if f.is_file()) if path.is_dir() else [path]
    return [shard, [[str(f), f.stat().st_size, f.stat().st_mtime_ns] for f in files]]


def executor_for(executor: Executor | str | None, workers: int | None) -> Executor:
    if executor is None or isinstance(executor, str):
        return make_executor(executor or "local", workers)
    return executor


# -- streaming a task's shard ------------------------------------------------------------------


class ShardReader:
    """A task's documents, streamed; its rejects go to the run's rejects folder as they come
    (when `keep_rejects`, i.e. in the pass that owns them), counted in `rejects`."""

    def __init__(self, task: Task, keep_rejects: bool = True) -> None:
        self.task, self.keep_rejects, self.rejects = task, keep_rejects, 0
        self.lines: list[int] = []  # line (row) of each document, in order

    def __iter__(self) -> Iterator[Doc]:
        t = self.task
        out = Path(t["rejects"]) / f"{t['name']}.jsonl"
        with atomic_path(out) if self.keep_rejects else _null() as tmp, \
                (open(tmp, "wb") if tmp else _null()) as f:
            for line, outcome in iter_shard(t["path"], text_field=t["text_field"], id_field=t["id_field"]):
                if isinstance(outcome, Reject):
                    self.rejects += 1
                    if f:
                        f.write(dumps(outcome.to_json()))
                    continue
                self.lines.append(line)
                yield outcome


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def batches(docs: Iterable[Doc], text_field: str, n: int = BATCH_DOCS, max_bytes: int = BATCH_BYTES
            ) -> Iterator[list[Doc]]:
    """Lists of at most n documents (or about max_bytes of text), in order."""
    batch: list[Doc] = []
    size = 0
    for d in docs:
        batch.append(d)
        text = d.get(text_field)
        size += len(text) if isinstance(text, str) else 0
        if len(batch) >= n or size >= max_bytes:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


class ShardWriter:
    """A task's kept parts and removed list, written as the apply pass goes."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.kept = PartWriter(task["dir"], f"{task['name']}.kept", task["suffix"], task["part_bytes"])
        self.removed: Counter[str] = Counter()
        self.docs_in = 0
        self._removed_path = Path(task["dir"]) / f"{task['name']}.removed.jsonl"

    def __enter__(self) -> Self:
        self.kept.__enter__()
        self._ctx = atomic_path(self._removed_path)
        self._rf = open(self._ctx.__enter__(), "wb")
        return self

    def keep(self, doc: Doc) -> None:
        self.docs_in += 1
        self.kept.write(doc)

    def keep_line(self, line: bytes) -> None:
        self.docs_in += 1
        self.kept.write_line(line)

    def remove(self, gone: Removed) -> None:
        self.docs_in += 1
        self.removed[gone.reason] += 1
        self._rf.write(dumps(gone.to_json()))

    def add(self, result: StepResult) -> None:
        for doc in result.kept:
            self.keep(doc)
        for gone in result.removed:
            self.remove(gone)

    def __exit__(self, *exc: object) -> None:
        self._rf.close()
        self._ctx.__exit__(*exc)
        self.kept.__exit__(*exc)

    def summary(self, **extra: Any) -> Summary:
        return {"docs_in": self.docs_in, "docs_kept": self.kept.docs, "removed": dict(sorted(self.removed.items())),
                "parts": [p.name for p in self.kept.parts], **extra}


# -- removal-only steps (exact, MinHash): map writes lines + ids, apply copies kept lines ----------


def save_lines(task: Task, lines: list[int], ids: list[str]) -> None:
    """The map phase's record of where each document is (line) and what it is called (id)."""
    base = Path(task["dir"]) / task["name"]
    with atomic_path(f"{base}.lines.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.asarray(lines, dtype=np.int64))
    with atomic_path(f"{base}.ids.json") as tmp:
        Path(tmp).write_text(json.dumps(ids))


def load_removals(path: str | os.PathLike) -> dict[int, Removed]:
    """A shard's removal decisions as the reduce phase wrote them (position -> Removed)."""
    raw = json.loads(Path(path).read_text())
    return {int(pos): Removed(doc_id, reason, detail) for pos, (doc_id, reason, detail) in raw.items()}


def save_removals(path: str | os.PathLike, removals: dict[int, Removed]) -> None:
    data = {str(pos): [r.id, r.reason, r.detail] for pos, r in sorted(removals.items())}
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data))


def apply_task(task: Task) -> Summary:
    """Apply phase for steps that only remove whole documents: the kept records' JSON lines are
    copied through unchanged (parquet and HF inputs are re-serialized), nothing is parsed twice."""
    removals = load_removals(Path(task["decisions_dir"]) / f"{task['name']}.json")
    lines = np.load(Path(task["map_dir"]) / f"{task['name']}.lines.npy")
    status = np.zeros(int(lines.max()) + 2 if len(lines) else 1, dtype=np.int8)  # 0: not a document
    status[lines] = 1
    status[lines[sorted(removals)]] = 2 if removals else 1
    with ShardWriter(task) as out:
        for gone in (removals[p] for p in sorted(removals)):
            out.remove(gone)
        source = raw_lines(task["path"])
        if source is not None:
            for line, raw in source:
                if line < len(status) and status[line] == 1:
                    out.keep_line(raw)
        else:
            reader = ShardReader(task, keep_rejects=False)
            for doc in reader:
                if status[reader.lines[-1]] == 1:
                    out.keep(doc)
    return out.summary()


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
    apply_dir, rejects_dir = stage.work / "apply", stage.work / "rejects"
    parts = [[apply_dir / p for p in s["parts"]] for s in apply_summaries]
    if stage.folder:
        _place_parts(stage.output, parts)
    elif stage.suffix == doc_suffix(stage.output):
        flat = [p for ps in parts for p in ps]
        if len(flat) == 1 and not keep_work:  # NOTE: one part: rename it, do not copy it
            with atomic_path(stage.output) as tmp:
                os.replace(flat[0], tmp)
        else:
            concat_files(stage.output, flat)
    else:  # parquet
        write_docs(stage.output, (d for ps in parts for p in ps for d in iter_jsonl(p)))
    concat_files(sibling(stage.output, "removed"), (apply_dir / f"{i:05d}.removed.jsonl" for i in range(n)))
    reject_files = [rejects_dir / f"{i:05d}.jsonl" for i in range(n)]
    concat_files(sibling(stage.output, "rejects"), (f for f in reject_files if f.exists()))
    removed: Counter[str] = Counter()
    for s in apply_summaries:
        removed.update(s["removed"])
    rejects = Counter(r["reason"] for f in reject_files if f.exists() for r in iter_jsonl(f))
    stats = {
        "step": stage.step,
        "shards": n,
        "parts": sum(len(p) for p in parts),
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
    stem = stage.output if stage.folder else stage.output[: -len(doc_suffix(stage.output))]
    with atomic_path(f"{stem}.stats.json") as tmp:
        Path(tmp).write_text(json.dumps(stats, indent=1, sort_keys=True))
    if not keep_work:
        shutil.rmtree(stage.work, ignore_errors=True)
    return stats


def _place_parts(folder: str, parts: list[list[Path]]) -> None:
    """Move every part into `folder` as part-SSSSS-NNN.jsonl.zst; the folder appears complete or not at all."""
    tmp = Path(f"{folder}.parts-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for s, shard_parts in enumerate(parts):
        for k, p in enumerate(shard_parts):
            target = tmp / f"part-{s:05d}-{k:03d}.jsonl.zst"
            if p.exists():
                os.replace(p, target)
            else:  # NOTE: resumed with the work folder kept: the part was moved by an earlier finish
                raise FileNotFoundError(f"{p}: a completed task's part is missing; delete {folder}.work and rerun")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)

