"""MinHash LSH near-duplicate removal: banding, candidate clusters, exact-Jaccard verification.

1. Banding: two documents are candidates when any band key matches (`minhash.band_keys`).
   Bucket collisions are joined with union-find into candidate clusters.
2. Verification (OLMo 3 style, precision 1.0): inside each candidate cluster, a pair is linked only
   if the exact Jaccard similarity of its shingle sets (the same hashed word n-grams that made the
   signatures) is at least the threshold. Clusters up to `max_cluster` documents (default 500,
   OLMo 3's limit for exhaustive verification) are checked exhaustively, pairs that did not share
   a bucket included, which recovers pairs LSH missed. A larger cluster raises the alarm (a
   `UserWarning` and `oversized_clusters` in the stats: it is the signature of the marin#6854
   failure) and only its bucket-sharing pairs are checked, so its cost stays linear.
3. Final clusters are the connected components of verified links. The kept copy is the first in
   input order (smallest (shard, position), as in exact dedup); the others are removed with the
   kept id in `detail`. A pair in one cluster may itself be below the threshold when the cluster
   is a chain (A~B, B~C); every link is above it.

Documents without shingles (empty after normalization) are never candidates.

    result = minhash_dedup(docs, MinHashConfig.make(threshold=0.8))
    stats = run_minhash(["a.jsonl"], "out.jsonl", bands=26, rows=11)
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, text_of
from runners.curation.minhash import MinHashConfig, band_keys, shingle_batch, signatures_flat
from runners.curation.stage import (
    apply_removals,
    apply_task,
    finish,
    prepare,
    read_task_shard,
    save_removals,
    write_rejects,
)
from runners.curation.unionfind import UnionFind

REASON = "minhash_duplicate"


@dataclass(slots=True)
class Sketch:
    """What the global reduce needs from one shard: band keys and shingle sets, by position."""

    keys: np.ndarray  # (n, bands) uint64
    shingles: np.ndarray  # all documents' shingle hashes (in text order, repeats kept), concatenated
    offsets: np.ndarray  # (n + 1,) int64: document i is shingles[offsets[i]:offsets[i+1]]
    ids: list[str]


def sketch(texts: Sequence[str], ids: Sequence[str], cfg: MinHashConfig, batch: int = 1024) -> Sketch:
    keys, flats, offsets = [], [], [np.zeros(1, dtype=np.int64)]
    for lo in range(0, len(texts), batch):
        flat, off = shingle_batch(texts[lo : lo + batch], cfg.ngram)
        keys.append(band_keys(signatures_flat(flat, off, cfg.num_perm, cfg.seed), cfg.bands, cfg.rows))
        offsets.append(off[1:] + offsets[-1][-1])
        flats.append(flat)
    return Sketch(
        np.concatenate(keys) if keys else np.empty((0, cfg.bands), dtype=np.uint64),
        np.concatenate(flats) if flats else np.empty(0, dtype=np.uint64),
        np.concatenate(offsets),
        list(ids),
    )


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


def minhash_reduce(
    sketches: Sequence[Sketch], cfg: MinHashConfig
) -> tuple[list[dict[int, Removed]], dict[str, Any]]:
    """Global decision over all shards: per shard, position -> Removed; and the LSH statistics."""
    sizes = [len(s.ids) for s in sketches]
    n = sum(sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    shard_of = np.repeat(np.arange(len(sizes)), sizes)
    keys = np.concatenate([s.keys for s in sketches]) if n else np.empty((0, cfg.bands), np.uint64)
    counts = np.concatenate([np.diff(s.offsets) for s in sketches]) if n else np.empty(0, np.int64)
    valid = counts > 0

    def shingles_of(g: int) -> set[int]:
        s = int(shard_of[g])
        p = g - int(starts[s])
        sk = sketches[s]
        return set(sk.shingles[sk.offsets[p] : sk.offsets[p + 1]].tolist())

    links = bucket_links(keys, valid)
    candidates = UnionFind(n)
    candidates.union_pairs(links)
    clusters = candidates.components()
    link_roots = candidates.roots()[links[:, 0]] if len(links) else np.empty(0, np.int64)

    verified = UnionFind(n)
    compared = linked = oversized = 0
    for members in clusters:
        if len(members) <= cfg.max_cluster:
            pairs = combinations(members.tolist(), 2)
        else:
            oversized += 1
            warnings.warn(
                f"MinHash: a candidate cluster of {len(members)} documents exceeds max_cluster="
                f"{cfg.max_cluster}; only its bucket-sharing pairs are verified. A cluster this size "
                "usually means boilerplate or too loose a band setting.",
                stacklevel=2,
            )
            pairs = links[link_roots == candidates.find(int(members[0]))].tolist()
        sets = {int(g): shingles_of(int(g)) for g in members}
        for x, y in pairs:
            a, b = sets[x], sets[y]
            if min(len(a), len(b)) < cfg.threshold * max(len(a), len(b)):
                continue  # NOTE: J <= min/max, so this pair cannot reach the threshold
            compared += 1
            inter = len(a & b)
            if inter / (len(a) + len(b) - inter) >= cfg.threshold:
                linked += 1
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
        "oversized_clusters": oversized,
        "pairs_compared": compared,
        "pairs_linked": linked,
        "candidate_precision": linked / compared if compared else None,
        "clusters": len(final),
        "largest_cluster": max((len(c) for c in final), default=0),
    }
    return removals, stats


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
    cfg = MinHashConfig(**task["cfg"])
    docs, rejects = read_task_shard(task)
    write_rejects(task, rejects)
    sk = sketch([text_of(d, task["text_field"]) for d in docs], [d[task["id_field"]] for d in docs], cfg)
    base = Path(task["dir"]) / task["name"]
    for what, array in (("keys", sk.keys), ("shingles", sk.shingles), ("offsets", sk.offsets)):
        with atomic_path(f"{base}.{what}.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, array)
    with atomic_path(f"{base}.ids.json") as tmp:
        Path(tmp).write_text(json.dumps(sk.ids))
    return {"docs": len(docs), "rejects": len(rejects)}


def _load_sketch(stage_path: Any, i: int) -> Sketch:
    # NOTE: shingles are memory-mapped: the reduce touches only the candidates' shingles
    return Sketch(
        np.load(stage_path("map", i, "keys.npy")),
        np.load(stage_path("map", i, "shingles.npy"), mmap_mode="r"),
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
    removals, stats = minhash_reduce(sketches, cfg)
    for i, r in enumerate(removals):
        save_removals(stage.path("reduce", i, "json"), r)
    applied = stage.run(apply_task, "apply", decisions_dir=str(stage.work / "reduce"))
    return finish(stage, mapped, applied, stats, keep_work=keep_work)
