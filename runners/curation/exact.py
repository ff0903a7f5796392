"""Exact deduplication: one copy of each normalized text survives, across all shards.

Two documents are duplicates when their `normalize_exact` texts are equal (NFC, lowercase,
whitespace collapsed; see `runners.curation.normalize`). Equality is decided on a 128-bit
xxh3 hash of the normalized UTF-8 bytes: at 10^10 documents the chance of any collision is about
10^-19, and 16 bytes per document keeps the global reduce small.

The kept copy is the first occurrence in input order: the smallest (shard, position), shards in
the order `io.list_shards` gives. That choice depends only on the inputs, never on worker count or
scheduling, and it lets a user state a priority by ordering inputs (newest crawl first, as OLMo 3
keeps the newest copy). Removed documents name the kept id in `detail`.

    result = exact_dedup(docs)                                  # one shard, in memory
    stats = run_exact(["a.jsonl", "b.jsonl.zst"], "out.jsonl")  # files, resumable, parallel
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, text_of
from runners.curation.normalize import normalize_exact
from runners.curation.stage import (
    apply_removals,
    apply_task,
    finish,
    prepare,
    read_task_shard,
    save_removals,
    write_rejects,
)

REASON = "exact_duplicate"


# Every character `str.split()` splits on: ASCII ones are collapsed byte-wise (see `_collapse`),
# the others are first replaced by a space (rare, so a regex search is cheap).
_ASCII_SPACE = np.zeros(256, dtype=np.uint8)
_ASCII_SPACE[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = 1
_OTHER_SPACE = re.compile("[\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]")
_BATCH = 2048


def text_digests(texts: Sequence[str], *, use_numba: bool = True) -> np.ndarray:
    """(n, 2) uint64: the 128-bit xxh3 hash of each text's `normalize_exact` UTF-8 bytes.

    With numba the whitespace collapse runs as one compiled loop over a batch of documents (about
    5x `" ".join(text.lower().split())`, which allocates one object per word); the result is
    byte-identical to `normalize_exact`, which stays the definition (a test pins it).
    """
    kernel = _collapse_kernel() if use_numba else None
    if kernel is None:
        raw = b"".join(xxhash.xxh3_128_digest(normalize_exact(t).encode("utf-8")) for t in texts)
        return np.frombuffer(raw, dtype=np.uint64).reshape(len(texts), 2).copy()
    out = np.empty((len(texts), 2), dtype=np.uint64)
    for lo in range(0, len(texts), _BATCH):
        batch = [_lowered(t) for t in texts[lo : lo + _BATCH]]
        offsets = np.zeros(len(batch) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in batch], out=offsets[1:])
        data = np.frombuffer(b"".join(batch), dtype=np.uint8)
        collapsed = np.empty(len(data), dtype=np.uint8)
        ends = np.empty(len(batch) + 1, dtype=np.int64)
        kernel(data, offsets, _ASCII_SPACE, collapsed, ends)
        view = memoryview(collapsed)
        raw = b"".join(xxhash.xxh3_128_digest(view[ends[i] : ends[i + 1]]) for i in range(len(batch)))
        out[lo : lo + len(batch)] = np.frombuffer(raw, dtype=np.uint64).reshape(len(batch), 2)
    return out


def _lowered(text: str) -> bytes:
    """NFC + lowercase as UTF-8, with non-ASCII whitespace already turned into spaces."""
    if text.isascii():
        return text.encode("ascii").lower()
    text = unicodedata.normalize("NFC", text).lower()
    if _OTHER_SPACE.search(text):
        text = _OTHER_SPACE.sub(" ", text)
    return text.encode("utf-8")


@lru_cache(maxsize=1)
def _collapse_kernel() -> Any:
    try:
        import numba
    except ImportError:
        return None

    @numba.njit(cache=True, nogil=True)
    def collapse(data, offsets, is_space, out, ends):  # pragma: no cover - compiled
        # NOTE: branch-free inner loop (whitespace is too frequent to predict): every byte is
        # written, whitespace as a space, and the write position advances unless the byte is
        # whitespace right after whitespace (or at the start, where prev_space starts as 1).
        j = 0
        for d in range(offsets.shape[0] - 1):
            ends[d] = j
            start = j
            prev_space = 1
            for i in range(offsets[d], offsets[d + 1]):
                c = data[i]
                space = is_space[c]
                out[j] = c + space * (32 - c)
                j += 1 - (space & prev_space)
                prev_space = space
            if prev_space and j > start:
                j -= 1  # a trailing space
        ends[offsets.shape[0] - 1] = j

    return collapse


def exact_reduce(digests: Sequence[np.ndarray], ids: Sequence[Sequence[str]]) -> list[dict[int, Removed]]:
    """Global decision over all shards' digests: per shard, position -> Removed (naming the kept id)."""
    sizes = [len(d) for d in digests]
    if sum(sizes) == 0:
        return [{} for _ in sizes]
    both = np.concatenate([d.reshape(-1, 2) for d in digests])
    order_key = np.arange(len(both))  # NOTE: global index == (shard, position) order
    order = np.lexsort((order_key, both[:, 1], both[:, 0]))
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


def exact_dedup(docs: list[Doc], *, text_field: str = "text", id_field: str = "id") -> StepResult:
    """Exact dedup of one in-memory shard (the pure form of `run_exact`)."""
    texts = [text_of(d, text_field) for d in docs]
    digests = text_digests(texts)
    removals = exact_reduce([digests], [[d[id_field] for d in docs]])[0]
    result = apply_removals(docs, removals)
    result.stats["bytes_in"] = sum(len(t.encode("utf-8")) for t in texts)
    return result


def _map_task(task: Task) -> Summary:
    docs, rejects = read_task_shard(task)
    write_rejects(task, rejects)
    base = Path(task["dir"]) / task["name"]
    with atomic_path(f"{base}.ids.json") as tmp:
        Path(tmp).write_text(json.dumps([d[task["id_field"]] for d in docs]))
    with atomic_path(f"{base}.digests.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, text_digests([text_of(d, task["text_field"]) for d in docs]))
    return {"docs": len(docs), "rejects": len(rejects)}


def run_exact(
    input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    text_field: str = "text",
    id_field: str = "id",
    workers: int | None = None,
    executor: Executor | str | None = None,
    work_dir: str | os.PathLike | None = None,
    keep_work: bool = False,
) -> dict[str, Any]:
    """`olmospec data exact INPUT... OUTPUT`: exact dedup across all input shards; returns stats."""
    stage = prepare("exact", input_paths, output_path, {}, text_field=text_field, id_field=id_field,
                    work_dir=work_dir, executor=executor, workers=workers)
    mapped = stage.run(_map_task, "map")
    n = len(stage.shards)
    digests = [np.load(stage.path("map", i, "digests.npy")) for i in range(n)]
    ids = [json.loads(Path(stage.path("map", i, "ids.json")).read_text()) for i in range(n)]
    removals = exact_reduce(digests, ids)
    for i in range(n):
        save_removals(stage.path("reduce", i, "json"), removals[i])
    applied = stage.run(apply_task, "apply", decisions_dir=str(stage.work / "reduce"))
    return finish(stage, mapped, applied, {}, keep_work=keep_work)
