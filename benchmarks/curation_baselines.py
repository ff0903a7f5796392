"""The baselines `curation_scale.py` measures ours against, each end to end (read jsonl.zst parts,
step, write the kept documents):

    python benchmarks/curation_baselines.py naive exact OUT PARTS...       # the 20-line script
    python benchmarks/curation_baselines.py datasketch minhash OUT PARTS...
    python benchmarks/curation_baselines.py datatrove exact|minhash OUT PARTS...   # needs datatrove 0.10

The datasketch baseline uses our shingles (word 5-grams of `normalize.words`) as byte strings,
datasketch's `MinHash.bulk` with 286 permutations, `MinHashLSH` with 26 bands x 11 rows, exact
Jaccard verification of every candidate pair at 0.8, and union-find, keeping the first document of
each cluster: the same decision as ours, with datasketch doing the hashing and the index.
"""

from __future__ import annotations

import hashlib
import io
import json
import sys
from pathlib import Path


def _lines(parts):
    import zstandard

    for p in parts:
        with open(p, "rb") as f, zstandard.ZstdDecompressor().stream_reader(f) as z:
            yield from io.BufferedReader(z)


def naive_exact(out: str, parts: list[str]) -> None:
    """json + md5 of the normalized text + a set of digests; kept lines written out."""
    import zstandard

    seen = set()
    with open(out, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as w:
        for line in _lines(parts):
            text = json.loads(line)["text"]
            digest = hashlib.md5(" ".join(text.lower().split()).encode()).digest()
            if digest not in seen:
                seen.add(digest)
                w.write(line)


def datasketch_minhash(out: str, parts: list[str]) -> None:
    import datasketch
    import zstandard

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from runners.curation.normalize import words
    from runners.curation.unionfind import UnionFind

    lines = list(_lines(parts))
    shingles = []
    for line in lines:
        w = words(json.loads(line)["text"])
        shingles.append({b" ".join(w[i : i + 5]) for i in range(max(1, len(w) - 4))} if w else set())
    sigs = datasketch.MinHash.bulk([list(s) for s in shingles], num_perm=286)
    lsh = datasketch.MinHashLSH(num_perm=286, params=(26, 11))
    for i, (s, m) in enumerate(zip(shingles, sigs, strict=True)):
        if s:
            lsh.insert(i, m)
    uf = UnionFind(len(lines))
    for i, (s, m) in enumerate(zip(shingles, sigs, strict=True)):
        if not s:
            continue
        for j in lsh.query(m):
            if j > i and len(s & shingles[j]) / len(s | shingles[j]) >= 0.8:
                uf.union(i, j)
    drop = {int(g) for c in uf.components() for g in c[1:]}
    with open(out, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as w:
        for i, line in enumerate(lines):
            if i not in drop:
                w.write(line)


def datatrove_run(step: str, out: str, parts: list[str]) -> None:
    """datatrove 0.10's own multi-stage dedup pipelines, one task, local executor."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    folder = str(Path(parts[0]).parent)
    work = f"{out}.dt"
    reader = lambda: JsonlReader(folder, glob_pattern="*.jsonl.zst", compression="zstd")
    if step == "exact":
        from datatrove.pipeline.dedup.exact_dedup import (
            ExactDedupConfig,
            ExactDedupFilter,
            ExactDedupSignature,
            ExactFindDedups,
        )

        # NOTE: datatrove hashes the content as given: normalize it as ours does (lowercase, whitespace)
        cfg = ExactDedupConfig(content_getter=lambda doc: " ".join(doc.text.lower().split()).encode())
        stages = [[reader(), ExactDedupSignature(f"{work}/sigs", config=cfg)],
                  [ExactFindDedups(f"{work}/sigs", f"{work}/dups", config=cfg)],
                  [reader(), ExactDedupFilter(f"{work}/dups", config=cfg), JsonlWriter(out, compression="zstd")]]
    else:
        from datatrove.pipeline.dedup.minhash import (
            MinhashConfig,
            MinhashDedupBuckets,
            MinhashDedupCluster,
            MinhashDedupFilter,
            MinhashDedupSignature,
        )

        cfg = MinhashConfig(n_grams=5, num_buckets=26, hashes_per_bucket=11)
        stages = [[reader(), MinhashDedupSignature(f"{work}/sigs", config=cfg)],
                  [MinhashDedupBuckets(f"{work}/sigs", f"{work}/buckets", config=cfg)],
                  [MinhashDedupCluster(f"{work}/buckets", f"{work}/remove", config=cfg)],
                  [reader(), MinhashDedupFilter(f"{work}/remove"), JsonlWriter(out, compression="zstd")]]
    for i, pipeline in enumerate(stages):
        LocalPipelineExecutor(pipeline=pipeline, tasks=1, workers=1, logging_dir=f"{work}/logs{i}").run()


def main() -> None:
    kind, step, out, *parts = sys.argv[1:]
    if kind == "naive" and step == "exact":
        naive_exact(out, parts)
    elif kind == "datasketch" and step == "minhash":
        datasketch_minhash(out, parts)
    elif kind == "datatrove":
        datatrove_run(step, out, parts)
    else:
        raise SystemExit(f"no {kind} baseline for {step}")


if __name__ == "__main__":
    main()
