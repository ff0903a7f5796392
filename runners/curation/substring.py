"""Suffix-array substring dedup: repeated byte spans of at least N bytes keep one occurrence.

The rule, per N-byte window of a document's UTF-8 bytes (windows never cross documents): a window
is a repeat when the same N bytes start at an earlier position at least N bytes before it, i.e.
at an earlier occurrence it does not overlap. Every byte covered by a repeat window is removed.
So the first occurrence of any span of >= N bytes stays (order: shard, then position in shard,
then byte offset), every later non-overlapping occurrence goes, and a text that merely repeats
itself with a short period (a run of dashes slightly longer than N) keeps N bytes of it.

How: all documents of all shards are concatenated with a 0xFF byte between them (0xFF never occurs
in UTF-8, so no repeat can run across a separator); pydivsufsort builds the suffix array and
Kasai's LCP array; suffixes sharing their first N bytes form contiguous groups in the suffix array
(LCP >= N between neighbours), and a window is a repeat when its position is at least N past the
smallest position in its group. All of that is vectorized numpy, O(total bytes).

Cuts are snapped to characters: a character is removed only if all of its bytes are, so the output
is always valid UTF-8 (at most 3 bytes of a repeat survive at each cut). A repeat run never spans
two documents, because runs are unions of windows and windows stay inside one document. A document that was cut
and has fewer than `min_chars` characters left (after stripping whitespace) is removed.

Memory: the pass is global (that is what catches repeats across shards): about 1 (text) + 1 (the
driver's copy) + 4 (suffix array) + 4 (LCP) + 2 (flags) bytes per input byte while the text is under
2 GiB (int32 indices; twice the index bytes above), plus 8 bytes per byte that repeats. A 24 GB
machine takes ~1.5 GB of text per call; beyond that, run it per group of shards (repeats across
groups are then missed), as OLMo 3 did with 56 shards on a 2 TB-RAM node.

    result = substring_dedup(docs, min_bytes=500)
    stats = run_substring(["a.jsonl", "b.jsonl"], "out.jsonl", min_bytes=500)
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, text_of
from runners.curation.stage import finish, prepare, read_task_shard, write_rejects, write_result

SEP = 0xFF
REASON = "substring_duplicate_empty"


def concat(texts: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(bytes with a 0xFF after each document, start offset of each document + the total end)."""
    lengths = np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))
    starts = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    data = np.frombuffer(bytearray(b"\xff".join(texts) + (b"\xff" if texts else b"")), dtype=np.uint8)
    return data, starts


def repeat_intervals(data: np.ndarray, min_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted disjoint byte intervals [start, end) of `data` (uint8, documents separated by 0xFF)
    covered by repeat windows (not yet aligned to characters)."""
    from pydivsufsort import divsufsort, kasai

    n = len(data)
    none = np.empty(0, dtype=np.int64)
    if n < 2 * min_bytes:
        return none, none
    sa = divsufsort(data)
    lcp = kasai(data, sa)  # NOTE: lcp[i] = common prefix length of suffixes sa[i] and sa[i + 1]
    linked = lcp >= min_bytes  # suffix i shares its first min_bytes bytes with suffix i + 1
    del lcp
    member = linked.copy()  # suffix i is in a group of two or more
    member[1:] |= linked[:-1]
    if not member.any():
        return none, none
    opens = member.copy()  # ... and is the first of its group
    opens[1:] &= ~linked[:-1]
    # NOTE: boolean compression, not index gathers: every pass below is sequential over memory
    pos = sa[member]
    new_group = opens[member]
    del sa, linked, member, opens
    group_at = np.flatnonzero(new_group)
    first = np.minimum.reduceat(pos, group_at)
    first_of_each = np.repeat(first, np.diff(np.append(group_at, len(pos))))
    repeat = np.zeros(n, dtype=bool)
    repeat[pos[pos - first_of_each >= min_bytes]] = True
    del pos, first_of_each, first, group_at, new_group
    # a window holding a separator is never a repeat (its twin holds one at the same offset, and
    # windows must stay inside one document)
    is_sep = data == SEP
    seps_upto = np.cumsum(is_sep, dtype=np.int64 if n >= 2**31 else np.int32)
    last = n - min_bytes + 1  # windows start at 0 .. n - min_bytes
    holds_sep = seps_upto[min_bytes - 1 :] - seps_upto[:last] + is_sep[:last] > 0
    repeat[:last] &= ~holds_sep
    repeat[last:] = False
    del is_sep, seps_upto, holds_sep
    # bytes covered by some repeat window [s, s + min_bytes), as disjoint intervals
    starts_upto = np.cumsum(repeat, dtype=np.int64 if n >= 2**31 else np.int32)
    covered = starts_upto.copy()
    covered[min_bytes:] -= starts_upto[:-min_bytes]
    edges = np.flatnonzero(np.diff(covered > 0, prepend=False, append=False))
    return edges[0::2].astype(np.int64), edges[1::2].astype(np.int64)


def repeat_mask(data: np.ndarray, min_bytes: int) -> np.ndarray:
    """Bool per byte of `data`: covered by a repeat window (the rule in the module docstring)."""
    mask = np.zeros(len(data), dtype=bool)
    for a, b in zip(*repeat_intervals(data, min_bytes), strict=True):
        mask[a:b] = True
    return mask


def _is_continuation(byte: int) -> bool:
    return byte & 0xC0 == 0x80


def snap_to_chars(data: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> list[tuple[int, int]]:
    """Shrink intervals to whole UTF-8 characters (a character goes only if all its bytes do);
    drops intervals left empty."""
    out = []
    n = len(data)
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        while a < b and _is_continuation(int(data[a])):
            a += 1
        while b > a and b < n and _is_continuation(int(data[b])):
            b -= 1
        if a < b:
            out.append((a, b))
    return out


def cut_ranges(texts: Sequence[bytes], min_bytes: int) -> list[list[tuple[int, int]]]:
    """Per document, the byte ranges [a, b) to remove (character-aligned, sorted, disjoint)."""
    data, starts = concat(texts)
    out: list[list[tuple[int, int]]] = [[] for _ in texts]
    cuts = snap_to_chars(data, *repeat_intervals(data, min_bytes))
    docs = np.searchsorted(starts, [a for a, _ in cuts], side="right") - 1
    for d, (a, b) in zip(docs.tolist(), cuts, strict=True):
        out[d].append((a - int(starts[d]), b - int(starts[d])))
    return out


def apply_cuts(
    docs: list[Doc], cuts: list[list[tuple[int, int]]], *, text_field: str, id_field: str, min_chars: int
) -> StepResult:
    """Rewrite cut documents; remove those left (near) empty; count documents and bytes."""
    result = StepResult()
    modified = bytes_in = bytes_removed = 0
    for doc, ranges in zip(docs, cuts, strict=True):
        raw = text_of(doc, text_field).encode("utf-8")
        bytes_in += len(raw)
        if not ranges:
            result.kept.append(doc)
            continue
        if not isinstance(doc[text_field], str):
            raise ValueError(f"document {doc[id_field]!r}: substring dedup would cut its '{text_field}', "  # noqa: TRY004
                             "which is not a string (a chat record)")
        if "fim" in doc:
            raise ValueError(f"document {doc[id_field]!r} carries a FIM rewrite: run fim after substring dedup")
        pieces, pos = [], 0
        for a, b in ranges:
            pieces.append(raw[pos:a])
            pos = b
        pieces.append(raw[pos:])
        text = b"".join(pieces).decode("utf-8")  # NOTE: strict: snapping guarantees valid UTF-8
        cut = len(raw) - sum(len(p) for p in pieces)
        bytes_removed += cut
        if len(text.strip()) < min_chars:
            result.removed.append(Removed(doc[id_field], REASON, f"{cut} of {len(raw)} bytes were repeats"))
        else:
            modified += 1
            result.kept.append({**doc, text_field: text})
    result.stats = {
        "docs_in": len(docs),
        "docs_kept": len(result.kept),
        "docs_modified": modified,
        "bytes_in": bytes_in,
        "bytes_removed": bytes_removed,
        **result.reason_counts(),
    }
    return result


def substring_dedup(
    docs: list[Doc],
    *,
    min_bytes: int = 500,
    min_chars: int = 50,
    text_field: str = "text",
    id_field: str = "id",
) -> StepResult:
    """Substring dedup of one in-memory shard (the pure form of `run_substring`)."""
    cuts = cut_ranges([text_of(d, text_field).encode("utf-8") for d in docs], min_bytes)
    return apply_cuts(docs, cuts, text_field=text_field, id_field=id_field, min_chars=min_chars)


def _map_task(task: Task) -> Summary:
    docs, rejects = read_task_shard(task)
    write_rejects(task, rejects)
    base = Path(task["dir"]) / task["name"]
    encoded = [text_of(d, task["text_field"]).encode("utf-8") for d in docs]
    with atomic_path(f"{base}.lengths.npy") as tmp, open(tmp, "wb") as f:
        np.save(f, np.array([len(t) for t in encoded], dtype=np.int64))
    with atomic_path(f"{base}.bytes") as tmp, open(tmp, "wb") as f:
        f.write(b"".join(encoded))
    return {"docs": len(docs), "rejects": len(rejects)}


def _apply_task(task: Task) -> Summary:
    docs, _ = read_task_shard(task)
    raw = json.loads((Path(task["decisions_dir"]) / f"{task['name']}.json").read_text())
    cuts = [[tuple(r) for r in raw.get(str(p), [])] for p in range(len(docs))]
    result = apply_cuts(
        docs, cuts, text_field=task["text_field"], id_field=task["id_field"], min_chars=task["min_chars"]
    )
    return write_result(task, result)


def run_substring(
    input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    min_bytes: int = 500,
    min_chars: int = 50,
    text_field: str = "text",
    id_field: str = "id",
    workers: int | None = None,
    executor: Executor | str | None = None,
    work_dir: str | os.PathLike | None = None,
    keep_work: bool = False,
) -> dict[str, Any]:
    """`olmospec data substring INPUT... OUTPUT`: remove repeated spans >= min_bytes across shards."""
    if min_bytes < 1:
        raise ValueError(f"min_bytes must be at least 1, got {min_bytes}")
    params = {"min_bytes": min_bytes, "min_chars": min_chars}
    stage = prepare(
        "substring",
        input_paths,
        output_path,
        params,
        text_field=text_field,
        id_field=id_field,
        work_dir=work_dir,
        executor=executor,
        workers=workers,
    )
    mapped = stage.run(_map_task, "map")
    texts: list[bytes] = []
    sizes = []
    for i in range(len(stage.shards)):
        lengths = np.load(stage.path("map", i, "lengths.npy"))
        blob = Path(stage.path("map", i, "bytes")).read_bytes()
        bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
        texts.extend(blob[a:b] for a, b in pairwise(bounds))
        sizes.append(len(lengths))
    cuts = cut_ranges(texts, min_bytes)
    del texts
    pos = 0
    for i, size in enumerate(sizes):
        shard_cuts = {str(p): cuts[pos + p] for p in range(size) if cuts[pos + p]}
        with atomic_path(stage.path("reduce", i, "json")) as tmp:
            Path(tmp).write_text(json.dumps(shard_cuts))
        pos += size
    applied = stage.run(
        _apply_task, "apply", decisions_dir=str(stage.work / "reduce"), min_chars=min_chars
    )
    bytes_stats = {
        k: sum(s.get(k, 0) for s in applied) for k in ("bytes_in", "bytes_removed", "docs_modified")
    }
    return finish(stage, mapped, applied, {"substring": params, **bytes_stats}, keep_work=keep_work)
