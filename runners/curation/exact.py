"""Exact deduplication: one copy of each normalized text survives, across all shards.

Two documents are duplicates when their `normalize_exact` texts are equal (NFC, lowercase,
whitespace collapsed; see `runners.curation.normalize`). Equality is decided on a 128-bit
xxh3 hash of the normalized UTF-8 bytes: at 10^10 documents the chance of any collision is about
10^-19, and 16 bytes per document keeps the global reduce small.

The kept copy is the first occurrence in input order: the smallest (shard, position), shards in
the order `io.list_shards` gives. That choice depends only on the inputs, never on worker count or
scheduling. With `keep = newest` (OLMo 3 keeps the newest crawl) the copy with the greatest date
field is kept instead, ties going to the first. Removed documents name the kept id in `detail`.

Streaming: the map pass keeps 16 bytes (plus the id) per document, never a text; the apply pass
copies the kept JSON lines through unchanged, as parts.

    result = exact_dedup(docs)                                  # one shard, in memory
    stats = run_exact(["a.jsonl", "b.jsonl.zst"], "out.jsonl")  # files, resumable, parallel
    stats = run_exact(shards, "out/", keep="newest", date_field="crawl_date")
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, text_of
from runners.curation.jit import KERNEL_MIN_BYTES, loaded
from runners.curation.normalize import normalize_exact
from runners.curation.stage import (
    ShardReader,
    apply_removals,
    apply_task,
    batches,
    finish,
    prepare,
    save_lines,
    save_removals,
)

REASON = "exact_duplicate"


_BATCH = 8192


def text_digests(texts: Sequence[str], *, fast: bool = True) -> np.ndarray:
    """(n, 2) uint64: the 128-bit xxh3 hash of each text's `normalize_exact` UTF-8 bytes.

    `fast` normalizes in the compiled kernel (`runners.curation.exact_kernel`, about 3x faster than
    Python's split and join); its bytes equal `normalize_exact`'s, which stays the definition:
    texts the kernel cannot decide take it (a test pins both).
    """
    kernel = None
    if fast and (_kernel_loaded() or sum(map(len, texts)) >= KERNEL_MIN_BYTES):
        from runners.curation.exact_kernel import compiled

        kernel = compiled()
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for lo in range(0, len(texts), _BATCH):
        batch = texts[lo : lo + _BATCH]
        out[lo : lo + len(batch)] = np.frombuffer(_digests(batch, kernel), dtype=np.uint64).reshape(len(batch), 2)
    return out


def _kernel_loaded() -> bool:
    return loaded("runners.curation.exact_kernel", "compiled")


def _digests(batch: Sequence[str], kernel: Any) -> bytes:
    if kernel is None:
        return b"".join(xxhash.xxh3_128_digest(normalize_exact(t).encode("utf-8")) for t in batch)
    from runners.curation.exact_kernel import normalize_batch

    data, spans, slow = normalize_batch(kernel, batch)
    digests = [xxhash.xxh3_128_digest(data[a:b]) for a, b in spans.tolist()]
    todo = np.flatnonzero(slow).tolist()
    if todo:  # NOTE: NFC in C, then the kernel once more; what it still cannot decide takes Python
        nfc = [nfc_by_line(batch[i]) for i in todo]
        data, spans, slow = normalize_batch(kernel, nfc, nfc_done=True)
        for i, text, (a, b), python in zip(todo, nfc, spans.tolist(), slow.tolist(), strict=True):
            digests[i] = xxhash.xxh3_128_digest(normalize_exact(text).encode("utf-8") if python else data[a:b])
    return b"".join(digests)


def nfc_by_line(text: str) -> str:
    """`unicodedata.normalize("NFC", text)`, line by line, skipping the ASCII lines (5x faster on
    changelogs, where one name in a line of each entry has an accent). A newline never composes
    with the character before or after it, so NFC never reaches across one."""
    return "\n".join(line if line.isascii() else unicodedata.normalize("NFC", line) for line in text.split("\n"))


def exact_reduce(digests: Sequence[np.ndarray], ids: Sequence[Sequence[str]],
                 dates: Sequence[Sequence[str]] | None = None) -> list[dict[int, Removed]]:
    """Global decision over all shards' digests: per shard, position -> Removed (naming the kept id).
    The kept copy is the first in input order, or with `dates` the newest (the greatest date
    string, ties to the first; a document without a date is older than any with one)."""
    sizes = [len(d) for d in digests]
    if sum(sizes) == 0:
        return [{} for _ in sizes]
    both = np.concatenate([d.reshape(-1, 2) for d in digests])
    order_key = np.arange(len(both))  # NOTE: global index == (shard, position) order
    if dates is None:
        order = np.lexsort((order_key, both[:, 1], both[:, 0]))
    else:
        _, rank = np.unique(np.array([x for d in dates for x in d], dtype=object).astype(str), return_inverse=True)
        order = np.lexsort((order_key, -rank, both[:, 1], both[:, 0]))
    sorted_digests = both[order]
    starts = np.ones(len(order), dtype=bool)
    starts[1:] = np.any(sorted_digests[1:] != sorted_digests[:-1], axis=1)
    leader = order[np.maximum.accumulate(np.where(starts, np.arange(len(order)), 0))]
    shard_of = np.repeat(np.arange(len(sizes)), sizes)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    out: list[dict[int, Removed]] = [{} for _ in sizes]
    for g, kept in zip(order[~starts].tolist(), leader[~starts].tolist(), strict=True):
        s, k = int(shard_of[g]), int(shard_of[kept])
        out[s][g - int(offsets[s])] = Removed(
            ids[s][g - int(offsets[s])], REASON, ids[k][kept - int(offsets[k])]
        )
    return out


def _date(doc: Doc, field: str | None) -> str:
    value = doc.get(field) if field else None
    return value if isinstance(value, str) else ""


def exact_dedup(docs: list[Doc], *, text_field: str = "text", id_field: str = "id",
                date_field: str | None = None) -> StepResult:
    """Exact dedup of one in-memory shard (the pure form of `run_exact`); `date_field` keeps the newest."""
    texts = [text_of(d, text_field) for d in docs]
    digests = text_digests(texts)
    dates = [[_date(d, date_field) for d in docs]] if date_field else None
    removals = exact_reduce([digests], [[d[id_field] for d in docs]], dates)[0]
    result = apply_removals(docs, removals)
    result.stats["bytes_in"] = sum(len(t.encode("utf-8")) for t in texts)
    return result


def _map_task(task: Task) -> Summary:
    """Stream the shard in batches: keep only (line, id, digest[, date]) per document."""
    reader = ShardReader(task)
    ids: list[str] = []
    dates: list[str] = []
    digests = []
    for batch in batches(reader, task["text_field"], n=_BATCH):
        digests.append(text_digests([text_of(d, task["text_field"]) for d in batch]))
        ids.extend(d[task["id_field"]] for d in batch)
        if task["date_field"]:
            dates.extend(_date(d, task["date_field"]) for d in batch)
    save_lines(task, reader.lines, ids)
    base = Path(task["dir"]) / task["name"]
    with atomic_path(f"{base}.digests.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.concatenate(digests) if digests else np.zeros((0, 2), dtype=np.uint64))
    if task["date_field"]:
        with atomic_path(f"{base}.dates.json") as tmp:
            Path(tmp).write_text(json.dumps(dates))
    return {"docs": len(ids), "rejects": reader.rejects}


def run_exact(
    input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    keep: str = "first",
    date_field: str = "date",
    text_field: str = "text",
    id_field: str = "id",
    workers: int | None = None,
    executor: Executor | str | None = None,
    work_dir: str | os.PathLike | None = None,
    keep_work: bool = False,
) -> dict[str, Any]:
    """`olmospec data exact INPUT... OUTPUT`: exact dedup across all input shards; returns stats.
    `keep="newest"` keeps the copy with the greatest `date_field` (ISO 8601 strings compare in time order)."""
    if keep not in ("first", "newest"):
        raise ValueError(f"keep must be 'first' or 'newest', got {keep!r}")
    newest = date_field if keep == "newest" else None
    stage = prepare("exact", input_paths, output_path, {"keep": keep, "date_field": newest}, text_field=text_field,
                    id_field=id_field, work_dir=work_dir, executor=executor, workers=workers)
    mapped = stage.run(_map_task, "map", date_field=newest)
    n = len(stage.shards)
    digests = [np.load(stage.path("map", i, "digests.npy")) for i in range(n)]
    ids = [json.loads(Path(stage.path("map", i, "ids.json")).read_text()) for i in range(n)]
    dates = [json.loads(Path(stage.path("map", i, "dates.json")).read_text()) for i in range(n)] if newest else None
    removals = exact_reduce(digests, ids, dates)
    for i in range(n):
        save_removals(stage.path("reduce", i, "json"), removals[i])
    applied = stage.run(apply_task, "apply", decisions_dir=str(stage.work / "reduce"), map_dir=str(stage.work / "map"))
    return finish(stage, mapped, applied, {"exact": {"keep": keep, "date_field": newest}}, keep_work=keep_work)
