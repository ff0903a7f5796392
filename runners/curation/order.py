"""Document order in a token shard: upsampled copies spread apart, never in one training sequence.

A document kept with `repeat = k` is written k times. Written back to back, its copies would sit
in the same training sequence (the training runner cuts a shard's token stream into consecutive
windows of seq_len + 1 tokens), and the model would see the text repeated within its context.
So the copies are placed by a seeded shuffle of the document order, and then placement is
repaired so that between two copies of one document there are at least `min_gap` other tokens.
With `min_gap` = the longest sequence length of the stages that read the shard (the compiler passes
it), no window of seq_len + 1 tokens can hold tokens of two copies.

How, deterministically from `seed` and with memory linear in the number of copies (never in
tokens):

1. Shuffle: copy c of a document with k copies gets the key (c + u) / k, with u uniform per
   document; a single copy gets u. Sorting by key is a uniform shuffle of the documents in which
   each document's copies are spread evenly (stratified) over the stream.
2. Repair, in one pass over the shuffled order: a copy closer than `min_gap` tokens to the previous
   copy of its document is deferred (in a heap keyed by where it becomes allowed) and placed as soon
   as the stream has moved far enough.
3. Copies still deferred at the end are inserted at the first document boundary at least `min_gap`
   tokens from every copy of their document (inserting only widens the gaps of other documents).
   If there is none, the shard is too small for the spacing and that is an error naming the document.

If no document has more than one copy, the input order is kept.

    order = spread_order(lengths, repeats, min_gap=1024, seed=0)   # unique-document index per copy
"""

from __future__ import annotations

import heapq

import numpy as np


class SpacingError(ValueError):
    """A document has too many copies, or is too long, to be spaced `min_gap` tokens apart."""


def shuffled(repeats: np.ndarray, seed: int) -> np.ndarray:
    """Step 1: the unique-document index of every copy, in shuffled, stratified order."""
    n = len(repeats)
    u = np.random.Generator(np.random.Philox(np.random.SeedSequence([seed, 0x5EED]))).random(n)
    docs = np.repeat(np.arange(n, dtype=np.int64), repeats)
    starts = np.concatenate([[0], np.cumsum(repeats)[:-1]]).astype(np.int64)
    copy = np.arange(len(docs), dtype=np.int64) - np.repeat(starts, repeats)
    keys = (copy + u[docs]) / np.repeat(np.maximum(repeats, 1), repeats)
    return docs[np.argsort(keys, kind="stable")]


def spread_order(lengths: np.ndarray, repeats: np.ndarray, min_gap: int, seed: int = 0,
                 names: list[str] | None = None) -> np.ndarray:
    """Index (into the unique documents) of each copy, in stream order; see the module docstring.

    `lengths` are token counts per unique document (EOS included), `repeats` copies per document.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    repeats = np.asarray(repeats, dtype=np.int64)
    if len(repeats) == 0 or repeats.max() <= 1:
        return np.flatnonzero(repeats > 0).astype(np.int64)
    order = shuffled(repeats, seed)
    if min_gap <= 0:
        return order
    placed, leftover = _repair(order.tolist(), lengths.tolist(), repeats.tolist(), min_gap)
    for doc in leftover:
        placed = _insert(placed, doc, lengths, min_gap, names)
    return np.asarray(placed, dtype=np.int64)


def _repair(order: list[int], lengths: list[int], repeats: list[int], min_gap: int
            ) -> tuple[list[int], list[int]]:
    """Step 2: place copies in order, deferring any that comes too soon after its previous copy."""
    last_end: dict[int, int] = {}  # NOTE: only documents with several copies can conflict
    waiting: list[tuple[int, int, int]] = []  # (position where allowed, tie-break, document)
    out: list[int] = []
    pos = tick = 0

    def place(doc: int) -> None:
        nonlocal pos
        out.append(doc)
        pos += lengths[doc]
        if repeats[doc] > 1:
            last_end[doc] = pos

    def drain() -> None:  # place every deferred copy the stream has moved far enough past
        nonlocal tick
        while waiting and waiting[0][0] <= pos:
            _, _, w = heapq.heappop(waiting)
            allowed = last_end[w] + min_gap
            if allowed <= pos:
                place(w)
            else:  # another copy of w was placed meanwhile
                tick += 1
                heapq.heappush(waiting, (allowed, tick, w))

    for doc in order:
        drain()
        if repeats[doc] > 1 and doc in last_end and pos - last_end[doc] < min_gap:
            tick += 1
            heapq.heappush(waiting, (last_end[doc] + min_gap, tick, doc))
        else:
            place(doc)
    drain()
    return out, [w for _, _, w in sorted(waiting)]


def _insert(placed: list[int], doc: int, lengths: np.ndarray, min_gap: int, names: list[str] | None
            ) -> list[int]:
    """Step 3: insert one more copy of `doc` at the first boundary far enough from all its copies."""
    order = np.asarray(placed, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(lengths[order])])  # boundary b is before order[b]
    mine = np.flatnonzero(order == doc)
    starts, ends = bounds[mine], bounds[mine + 1]
    ok = np.ones(len(bounds), dtype=bool)
    for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
        # a boundary inside (e - min_gap, s + min_gap) is too close to this copy on one side
        ok &= (bounds <= s - min_gap) | (bounds >= e + min_gap)
    where = np.flatnonzero(ok)
    if not len(where):
        name = names[doc] if names else str(doc)
        raise SpacingError(
            f"document {name!r}: {len(mine) + 1} copies of {int(lengths[doc])} tokens cannot be spaced "
            f"{min_gap} tokens apart in a stream of {int(bounds[-1])} tokens (lower max_repeat, add data, "
            "or shorten the sequence length)")
    b = int(where[0])
    return placed[:b] + [doc] + placed[b:]


def min_copy_gap(order: np.ndarray, lengths: np.ndarray) -> int | None:
    """The smallest number of tokens between two copies of one document (None: no repeats)."""
    order = np.asarray(order, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(np.asarray(lengths, dtype=np.int64)[order])])
    by_doc = np.lexsort((np.arange(len(order)), order))
    same = order[by_doc][1:] == order[by_doc][:-1]
    if not same.any():
        return None
    gaps = bounds[by_doc[1:][same]] - bounds[by_doc[:-1][same] + 1]
    return int(gaps.min())
