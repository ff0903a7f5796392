"""MinHash LSH near-duplicate removal: banding, candidate clusters, exact-Jaccard verification.

1. Banding: two documents are candidates when any band key matches (`minhash.band_keys`).
   Bucket collisions are joined with union-find into candidate clusters.
2. Verification (OLMo 3 style, precision 1.0): inside each candidate cluster, a pair is linked only
   if the exact Jaccard similarity of its shingle sets (the same hashed word n-grams that made the
   signatures) is at least the threshold. Clusters up to `max_cluster` documents (default 500,
   OLMo 3's limit for exhaustive verification) are checked exhaustively, pairs that did not share
   a bucket included, which recovers pairs LSH missed. A larger cluster raises the alarm (a
   `UserWarning` and `oversized_clusters` in the stats: it is the signature of the marin#6854
   failure) and is re-clustered, as OLMo 3 did, with a stricter MinHash (200 bands x 31 rows,
   its own permutations, computed from the stored shingles): only pairs sharing one of those
   buckets are verified, so its cost stays linear and boilerplate links do not chain it together.
3. Final clusters are the connected components of verified links. The kept copy is the first in
   input order (smallest (shard, position), as in exact dedup); the others are removed with the
   kept id in `detail`. A pair in one cluster may itself be below the threshold when the cluster
   is a chain (A~B, B~C); every link is above it.

Documents without shingles (empty after normalization) are never candidates.

Streaming: the map pass keeps band keys (8 bytes per band per document) and the shingle offsets in
memory and writes the shingle hashes straight to disk; the reduce reads one candidate cluster's
shingles at a time, as sorted arrays (8 bytes a shingle, not a Python set's ~70), so its memory is
the band keys plus the largest cluster; the apply pass copies the kept JSON lines through unchanged.
With several workers, the reduce's heavy parts (an oversized cluster's recheck signatures, the
verification) run as tasks on them (`Spread`), in an order that gives the same links.

    result = minhash_dedup(docs, MinHashConfig.make(threshold=0.8))
    stats = run_minhash(["a.jsonl"], "out.jsonl", bands=26, rows=11)
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, text_of
from runners.curation.jit import njit
from runners.curation.minhash import MinHashConfig, band_keys, shingle_batch, signatures_flat
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
from runners.curation.unionfind import UnionFind

REASON = "minhash_duplicate"


@dataclass(slots=True)
class Sketch:
    """What the global reduce needs from one shard: band keys and shingle sets, by position."""

    keys: np.ndarray  # (n, bands) uint64
    shingles: np.ndarray | ShingleFile  # each document's shingle set (sorted unique hashes), concatenated
    offsets: np.ndarray  # (n + 1,) int64: document i is shingles[offsets[i]:offsets[i+1]]
    ids: list[str]


class ShingleFile:
    """A shard's shingle hashes on disk, read slice by slice. Not a memory map: the pages a map has
    touched count toward the process's memory, and the reduce touches every candidate's."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = path

    def __getitem__(self, span: slice) -> np.ndarray:
        with open(self.path, "rb") as f:
            f.seek(int(span.start) * 8)
            return np.fromfile(f, dtype="<u8", count=int(span.stop) - int(span.start))


def sketch(texts: Sequence[str], ids: Sequence[str], cfg: MinHashConfig, batch: int = 1024) -> Sketch:
    keys, flats, offsets = [], [], [np.zeros(1, dtype=np.int64)]
    for lo in range(0, len(texts), batch):
        k, flat, off = sketch_batch(texts[lo : lo + batch], cfg)
        keys.append(k)
        offsets.append(off[1:] + offsets[-1][-1])
        flats.append(flat)
    return Sketch(
        np.concatenate(keys) if keys else np.empty((0, cfg.bands), dtype=np.uint64),
        np.concatenate(flats) if flats else np.empty(0, dtype=np.uint64),
        np.concatenate(offsets),
        list(ids),
    )


def sketch_batch(texts: Sequence[str], cfg: MinHashConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(band keys, shingle sets, offsets) of one batch of texts; each text's set is its sorted
    unique shingle hashes, made here in the parallel map so that the serial reduce need not."""
    flat, off = shingle_sets(*shingle_batch(texts, cfg.ngram))
    return band_keys(signatures_flat(flat, off, cfg.num_perm, cfg.seed), cfg.bands, cfg.rows), flat, off


def shingle_sets(flat: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each document's shingles sorted and without repeats. One sort per document: a single
    lexsort of (document, hash) over the batch was 5x slower."""
    flat = flat.copy()
    for a, b in pairwise(offsets.tolist()):
        if b - a > 1:
            flat[a:b].sort()
    keep = np.ones(len(flat), dtype=bool)
    keep[1:] = flat[1:] != flat[:-1]
    keep[offsets[:-1][np.diff(offsets) > 0]] = True  # NOTE: a document's first shingle is always new
    kept = np.zeros(len(flat) + 1, dtype=np.int64)
    np.cumsum(keep, out=kept[1:])
    return flat[keep], kept[offsets]


def bucket_links(keys: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(m, 2) int64 pairs (i < j) that share a bucket: in each band, documents with equal keys are
    chained in index order (a chain gives the same components as all pairs, at linear size)."""
    idx = np.flatnonzero(valid)
    links = []
    for j in range(keys.shape[1]):
        k = keys[idx, j]
        order = np.argsort(k, kind="stable")
        same = k[order][1:] == k[order][:-1]
        links.append(np.stack([idx[order[:-1][same]], idx[order[1:][same]]], axis=1))
    if not links:
        return np.empty((0, 2), dtype=np.int64)
    pairs = np.sort(np.concatenate(links), axis=1)
    return np.unique(pairs, axis=0) if len(pairs) else pairs.reshape(0, 2)


def strict_keys(members: np.ndarray, sets: Any, cfg: MinHashConfig, chunk: int = 256) -> np.ndarray:
    """The band keys of `members` under the stricter recheck MinHash (OLMo 3's 200 x 31 for
    oversized clusters), computed from their shingle sets with their own permutations. The
    6,200-value signatures are made `chunk` documents at a time and only their band keys kept."""
    ids = members.tolist()
    perms = cfg.recheck_bands * cfg.recheck_rows
    keys = [np.empty((0, cfg.recheck_bands), dtype=np.uint64)]
    for lo in range(0, len(ids), chunk):
        flats = [sets[g] for g in ids[lo : lo + chunk]]
        offsets = np.zeros(len(flats) + 1, dtype=np.int64)
        np.cumsum([len(f) for f in flats], out=offsets[1:])
        sigs = signatures_flat(np.concatenate(flats), offsets, perms, cfg.seed + 1)
        keys.append(band_keys(sigs, cfg.recheck_bands, cfg.recheck_rows))
    return np.concatenate(keys)


def strict_links(members: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Pairs of `members` that share a bucket of their recheck keys (`strict_keys`)."""
    local = bucket_links(keys, np.ones(len(members), dtype=bool))
    return members[local] if len(local) else np.empty((0, 2), dtype=np.int64)


def verify(groups: Sequence[tuple[np.ndarray, list | None]], sets: Any, threshold: float,
           merge: Any) -> tuple[list[list[int]], int]:
    """The pairs whose exact Jaccard similarity reaches `threshold`, among each group's candidate
    pairs (its members' every pair when the group lists none), and how many pairs were compared."""
    linked, compared = [], 0
    for members, pairs in groups:
        for x, y in (combinations(members.tolist(), 2) if pairs is None else pairs):
            a, b = sets[x], sets[y]
            if min(len(a), len(b)) < threshold * max(len(a), len(b)):
                continue  # NOTE: J <= min/max, so this pair cannot reach the threshold
            compared += 1
            inter = _shared(a, b, merge)
            if inter / (len(a) + len(b) - inter) >= threshold:
                linked.append([x, y])
    return linked, compared


class ClusterSets:
    """Shingle sets (sorted unique arrays) read on demand, the most recently used kept up to
    `max_bytes`: a cluster of thousands of long documents never sits in memory whole."""

    def __init__(self, read: Any, max_bytes: int = 256 << 20) -> None:
        self.read, self.max_bytes, self.bytes = read, max_bytes, 0
        self.cache: OrderedDict[int, np.ndarray] = OrderedDict()

    def __getitem__(self, g: int) -> np.ndarray:
        found = self.cache.get(g)
        if found is not None:
            self.cache.move_to_end(g)
            return found
        found = self.read(g)
        self.cache[g] = found
        self.bytes += found.nbytes
        while self.bytes > self.max_bytes and len(self.cache) > 2:
            self.bytes -= self.cache.popitem(last=False)[1].nbytes
        return found


def minhash_reduce(
    sketches: Sequence[Sketch], cfg: MinHashConfig, spread: Spread | None = None
) -> tuple[list[dict[int, Removed]], dict[str, Any]]:
    """Global decision over all shards: per shard, position -> Removed; and the LSH statistics.
    `spread` runs the recheck signatures and the verification as tasks on an executor's workers
    (the same results, in the same order); without it they run here."""
    sizes = [len(s.ids) for s in sketches]
    n = sum(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    shard_of = np.repeat(np.arange(len(sizes)), sizes)
    keys = np.concatenate([s.keys for s in sketches]) if n else np.empty((0, cfg.bands), np.uint64)
    counts = np.concatenate([np.diff(s.offsets) for s in sketches]) if n else np.empty(0, np.int64)
    valid = counts > 0

    links = bucket_links(keys, valid)
    candidates = UnionFind(n)
    candidates.union_pairs(links)
    clusters = candidates.components()

    # NOTE: numba costs ~0.3 s to import: worth it for many candidate pairs, not for a small file
    use_merge = len(links) >= 1000
    run = InProcess(ShingleSets([sk.shingles for sk in sketches], [sk.offsets for sk in sketches], starts)) \
        if spread is None else spread
    oversized = [m for m in clusters if len(m) > cfg.max_cluster]
    for members in oversized:
        warnings.warn(
            f"MinHash: a candidate cluster of {len(members)} documents exceeds max_cluster="
            f"{cfg.max_cluster}; it is re-clustered with a stricter {cfg.recheck_bands} x "
            f"{cfg.recheck_rows} MinHash and only pairs sharing one of its buckets are verified. A "
            "cluster this size usually means boilerplate or too loose a band setting.",
            stacklevel=2,
        )
    strict = {int(m[0]): strict_links(m, run.keys(m, cfg)) for m in oversized}
    groups = [(m, strict[int(m[0])].tolist() if len(m) > cfg.max_cluster else None) for m in clusters]
    recheck_links = sum(len(p) for p in strict.values())
    verified = UnionFind(n)
    compared = linked = 0
    for pairs, count in run.verify(groups, cfg.threshold, use_merge):
        compared += count
        linked += len(pairs)
        for x, y in pairs:
            verified.union(x, y)

    removals: list[dict[int, Removed]] = [{} for _ in sizes]
    final = verified.components()
    for members in final:
        kept = int(members[0])
        ks = int(shard_of[kept])
        kept_id = sketches[ks].ids[kept - int(starts[ks])]
        for g in members[1:].tolist():
            s = int(shard_of[g])
            p = g - int(starts[s])
            removals[s][p] = Removed(sketches[s].ids[p], REASON, kept_id)
    stats = {
        "minhash": {**dataclasses.asdict(cfg)},
        "docs_without_shingles": int((~valid).sum()),
        "bucket_links": len(links),
        "candidate_clusters": len(clusters),
        "largest_candidate_cluster": max((len(c) for c in clusters), default=0),
        "oversized_clusters": len(oversized),
        "recheck_links": recheck_links,
        "pairs_compared": compared,
        "pairs_linked": linked,
        "candidate_precision": linked / compared if compared else None,
        "clusters": len(final),
        "largest_cluster": max((len(c) for c in final), default=0),
    }
    return removals, stats


class InProcess:
    """The reduce's heavy parts, run in this process."""

    def __init__(self, shingles_of: Any) -> None:
        self.shingles_of = shingles_of

    def keys(self, members: np.ndarray, cfg: MinHashConfig) -> np.ndarray:
        return strict_keys(members, ClusterSets(self.shingles_of), cfg)

    def verify(self, groups: list, threshold: float, use_merge: bool) -> list[tuple[list[list[int]], int]]:
        return [verify(groups, ClusterSets(self.shingles_of), threshold, _merge_count() if use_merge else None)]


class Spread:
    """The reduce's heavy parts as tasks on an executor (its workers already hold numba's kernels
    from the map phase): the recheck keys of an oversized cluster in one chunk of documents per
    worker, the verification in groups of clusters balanced by their pair counts. Why: run in the
    parent, they were a serial 1.8 s of a 300 MB MinHash run, capping 2 workers at 1.47x."""

    def __init__(self, executor: Executor, sources: list[tuple[str, str]], starts: np.ndarray, workers: int) -> None:
        self.executor, self.workers = executor, workers
        self.base = {"sources": sources, "starts": starts.tolist()}

    def keys(self, members: np.ndarray, cfg: MinHashConfig) -> np.ndarray:
        chunks = [c for c in np.array_split(members, self.workers) if len(c)]
        tasks = [{**self.base, "members": c.tolist(), "cfg": dataclasses.asdict(cfg)} for c in chunks]
        return np.concatenate(self.executor.map(_keys_task, tasks))

    def verify(self, groups: list, threshold: float, use_merge: bool) -> list[tuple[list[list[int]], int]]:
        cost = [len(m) * (len(m) - 1) // 2 if p is None else len(p) for m, p in groups]
        cuts = np.searchsorted(np.cumsum(cost), np.linspace(0, sum(cost), 4 * self.workers + 1)[1:-1], side="right")
        tasks = [{**self.base, "groups": [(m.tolist(), p) for m, p in part], "threshold": threshold,
                  "merge": use_merge}
                 for part in (groups[a:b] for a, b in pairwise([0, *cuts.tolist(), len(groups)])) if part]
        return self.executor.map(_verify_task, tasks)


class ShingleSets:
    """Document g's shingle set (its sorted unique hashes), g counted over all shards in order."""

    def __init__(self, shingles: Sequence[Any], offsets: Sequence[np.ndarray], starts: Sequence[int]) -> None:
        self.shingles, self.offsets = shingles, offsets
        self.starts = np.asarray(starts, dtype=np.int64)

    @classmethod
    def from_files(cls, sources: list[tuple[str, str]], starts: list[int]) -> ShingleSets:
        """From the map phase's files (for a task in another process)."""
        return cls([ShingleFile(shingles) for shingles, _ in sources], [np.load(o) for _, o in sources], starts)

    def __call__(self, g: int) -> np.ndarray:
        s = int(np.searchsorted(self.starts, g, side="right")) - 1
        p = g - int(self.starts[s])
        return self.shingles[s][self.offsets[s][p] : self.offsets[s][p + 1]]


def _keys_task(task: Task) -> np.ndarray:
    sets = ClusterSets(ShingleSets.from_files(task["sources"], task["starts"]))
    return strict_keys(np.asarray(task["members"], dtype=np.int64), sets, MinHashConfig(**task["cfg"]))


def _verify_task(task: Task) -> tuple[list[list[int]], int]:
    sets = ClusterSets(ShingleSets.from_files(task["sources"], task["starts"]))
    groups = [(np.asarray(m, dtype=np.int64), p) for m, p in task["groups"]]
    return verify(groups, sets, task["threshold"], _merge_count() if task["merge"] else None)


def _shared(a: np.ndarray, b: np.ndarray, merge: Any) -> int:
    """How many values two sorted unique arrays share: by the compiled merge when given, else by
    binary search."""
    if len(a) > len(b):
        a, b = b, a
    if not len(a):
        return 0
    if merge is not None:
        return int(merge(a, b))
    at = np.searchsorted(b, a)
    np.minimum(at, len(b) - 1, out=at)
    return int(np.count_nonzero(b[at] == a))


@lru_cache(maxsize=1)
def _merge_count() -> Any:
    jit = njit()
    if jit is None:
        return None

    @jit
    def merge(a, b):  # pragma: no cover - compiled
        i = j = n = 0
        while i < a.shape[0] and j < b.shape[0]:
            if a[i] < b[j]:
                i += 1
            elif a[i] > b[j]:
                j += 1
            else:
                n += 1
                i += 1
                j += 1
        return n

    return merge


def minhash_dedup(
    docs: list[Doc], cfg: MinHashConfig | None = None, *, text_field: str = "text", id_field: str = "id"
) -> StepResult:
    """MinHash dedup of one in-memory shard (the pure form of `run_minhash`)."""
    cfg = cfg or MinHashConfig()
    sk = sketch([text_of(d, text_field) for d in docs], [d[id_field] for d in docs], cfg)
    removals, stats = minhash_reduce([sk], cfg)
    result = apply_removals(docs, removals[0])
    result.stats.update(stats)
    return result


def _map_task(task: Task) -> Summary:
    """Stream the shard in batches; write band keys, shingle hashes and offsets as they come (the
    shingles go straight to disk: only their offsets and the band keys stay in memory)."""
    cfg = MinHashConfig(**task["cfg"])
    reader = ShardReader(task)
    base = Path(task["dir"]) / task["name"]
    keys, counts, ids = [], [], []
    with atomic_path(f"{base}.shingles.bin") as tmp, open(tmp, "wb") as f:
        for batch in batches(reader, task["text_field"]):
            k, flat, off = sketch_batch([text_of(d, task["text_field"]) for d in batch], cfg)
            keys.append(k)
            counts.append(np.diff(off))
            f.write(flat.astype("<u8").tobytes())
            ids.extend(d[task["id_field"]] for d in batch)
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    if counts:
        np.cumsum(np.concatenate(counts), out=offsets[1:])
    for what, array in (("keys", np.concatenate(keys) if keys else np.empty((0, cfg.bands), np.uint64)),
                        ("offsets", offsets)):
        with atomic_path(f"{base}.{what}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, array)
    save_lines(task, reader.lines, ids)
    return {"docs": len(ids), "rejects": reader.rejects}


def _load_sketch(stage_path: Any, i: int) -> Sketch:
    return Sketch(
        np.load(stage_path("map", i, "keys.npy")),
        ShingleFile(stage_path("map", i, "shingles.bin")),
        np.load(stage_path("map", i, "offsets.npy")),
        json.loads(Path(stage_path("map", i, "ids.json")).read_text()),
    )


def run_minhash(
    input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    threshold: float = 0.8,
    ngram: int = 5,
    bands: int | None = None,
    rows: int | None = None,
    permutations: int | None = None,
    max_cluster: int = 500,
    seed: int = 1,
    text_field: str = "text",
    id_field: str = "id",
    workers: int | None = None,
    executor: Executor | str | None = None,
    work_dir: str | os.PathLike | None = None,
    keep_work: bool = False,
) -> dict[str, Any]:
    """`olmospec data minhash INPUT... OUTPUT`: near-duplicate removal across all shards."""
    cfg = MinHashConfig.make(threshold, ngram, bands, rows, permutations, max_cluster=max_cluster, seed=seed)
    params = dataclasses.asdict(cfg)
    stage = prepare(
        "minhash",
        input_paths,
        output_path,
        params,
        text_field=text_field,
        id_field=id_field,
        work_dir=work_dir,
        executor=executor,
        workers=workers,
    )
    mapped = stage.run(_map_task, "map", cfg=params)
    sketches = [_load_sketch(stage.path, i) for i in range(len(stage.shards))]
    workers = getattr(stage.executor, "workers", os.cpu_count() or 1)  # Ray's executor: its cluster
    spread = None
    if workers > 1:
        sizes = np.cumsum([0, *(len(sk.ids) for sk in sketches)])
        sources = [(stage.path("map", i, "shingles.bin"), stage.path("map", i, "offsets.npy"))
                   for i in range(len(sketches))]
        spread = Spread(stage.executor, [(str(a), str(b)) for a, b in sources], sizes, workers)
    removals, stats = minhash_reduce(sketches, cfg, spread)
    for i, r in enumerate(removals):
        save_removals(stage.path("reduce", i, "json"), r)
    applied = stage.run(apply_task, "apply", decisions_dir=str(stage.work / "reduce"), map_dir=str(stage.work / "map"))
    return finish(stage, mapped, applied, stats, keep_work=keep_work)
