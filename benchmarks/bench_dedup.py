"""Dedup throughput per core, each against a named baseline measured in the same run.

    .venv/bin/python -m pytest benchmarks/test_bench_dedup.py --benchmark-only \
        --benchmark-columns=mean,stddev,rounds --benchmark-group-by=group -s

- MinHash signatures from raw text, 286 permutations (OLMo 3's 26 x 11), word 5-grams:
  `shingle_batch` + `signatures_flat` (what `run_minhash` runs) vs datasketch 2.x `MinHash.bulk`
  over the same shingles (the n-gram strings of the same normalized words). Goal: >= 3x datasketch.
- exact dedup: `text_digests` (normalize + xxh3_128) vs `hashlib.md5` of `normalize_exact` texts,
  and vs a plain Python `set` of the normalized texts. Goal: >= 100 MB/s.
- substring dedup: `cut_ranges` (suffix array, LCP, repeat groups, UTF-8 snapping) vs the raw
  pydivsufsort suffix array + Kasai LCP of the same bytes. Goal: >= 5 MB/s.

All run in one process (one core). The corpus is real text on every Debian/Python machine: Debian
copyright files and package descriptions cut into ~300-word documents (MinHash, exact), and the
standard library's sources (exact, substring).
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import pytest

from runners.curation.exact import text_digests
from runners.curation.minhash import shingle_batch, signatures_flat
from runners.curation.normalize import normalize_exact, words
from runners.curation.substring import concat, cut_ranges

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
NUM_PERM = 286
RESULTS: dict[str, tuple[float, str]] = {}


def _prose_docs(n_words: int = 300, limit: int = 5000) -> list[str]:
    paragraphs: list[str] = []
    for f in sorted(Path("/usr/share/doc").glob("*/copyright")):
        paragraphs.extend(p.strip() for p in re.split(r"\n\s*\n", f.read_text(errors="replace")) if p.strip())
    status = Path("/var/lib/dpkg/status").read_text(errors="replace")
    paragraphs.extend(re.findall(r"^Description: (.*\n(?: .*\n)*)", status, re.MULTILINE))
    docs, current = [], []
    for p in paragraphs:
        current.append(p)
        if sum(len(x.split()) for x in current) >= n_words:
            docs.append("\n\n".join(current))
            current = []
    return docs[:limit]


@pytest.fixture(scope="module")
def prose() -> list[str]:
    return _prose_docs()


@pytest.fixture(scope="module")
def code() -> list[bytes]:
    """~17 MB of standard-library sources (about 6% of their bytes are repeats of >= 500 bytes)."""
    return [p.read_text(errors="replace").encode("utf-8") for p in sorted(STDLIB.rglob("*.py"))[:1500]]


def _record(benchmark, name: str, amount: float, unit: str) -> None:
    rate = amount / benchmark.stats.stats.mean
    benchmark.extra_info[unit] = round(rate, 2)
    RESULTS[name] = (rate, unit)


def _datasketch_shingles(text: str) -> list[bytes]:
    w = words(text)
    return [b" ".join(w[i : i + 5]) for i in range(max(1, len(w) - 4))]


@pytest.mark.benchmark(group="minhash signatures (286 perms)")
def test_minhash_signatures_ours(benchmark, prose: list[str]) -> None:
    signatures_flat(*shingle_batch(prose[:10]), NUM_PERM)  # compile (or load) the kernel
    benchmark.pedantic(lambda: signatures_flat(*shingle_batch(prose), NUM_PERM), rounds=3, iterations=1)
    _record(benchmark, "minhash: ours (xxh3 words + numba)", len(prose), "docs/s")


@pytest.mark.benchmark(group="minhash signatures (286 perms)")
def test_minhash_signatures_datasketch_baseline(benchmark, prose: list[str]) -> None:
    datasketch = pytest.importorskip("datasketch")
    docs = prose[:1500]

    def run() -> None:
        datasketch.MinHash.bulk([_datasketch_shingles(t) for t in docs], num_perm=NUM_PERM)

    benchmark.pedantic(run, rounds=2, iterations=1)
    _record(benchmark, "minhash: datasketch MinHash.bulk (baseline)", len(docs), "docs/s")


@pytest.mark.benchmark(group="exact dedup")
def test_exact_ours(benchmark, prose: list[str], code: list[bytes]) -> None:
    texts = prose + [t.decode() for t in code]
    text_digests(texts[:10])
    benchmark.pedantic(text_digests, args=(texts,), rounds=5, iterations=1)
    _record(benchmark, "exact: text_digests (ours)", sum(len(t.encode()) for t in texts) / 1e6, "MB/s")


@pytest.mark.benchmark(group="exact dedup")
def test_exact_md5_baseline(benchmark, prose: list[str], code: list[bytes]) -> None:
    texts = prose + [t.decode() for t in code]

    def run() -> set[bytes]:
        return {hashlib.md5(normalize_exact(t).encode("utf-8")).digest() for t in texts}

    benchmark.pedantic(run, rounds=3, iterations=1)
    _record(
        benchmark,
        "exact: md5 of normalize_exact (baseline)",
        sum(len(t.encode()) for t in texts) / 1e6,
        "MB/s",
    )


@pytest.mark.benchmark(group="exact dedup")
def test_exact_python_set_baseline(benchmark, prose: list[str], code: list[bytes]) -> None:
    texts = prose + [t.decode() for t in code]
    benchmark.pedantic(lambda: {normalize_exact(t) for t in texts}, rounds=3, iterations=1)
    _record(
        benchmark,
        "exact: set of normalized texts (baseline)",
        sum(len(t.encode()) for t in texts) / 1e6,
        "MB/s",
    )


@pytest.mark.benchmark(group="substring dedup (min 500 bytes)")
def test_substring_ours(benchmark, code: list[bytes]) -> None:
    benchmark.pedantic(cut_ranges, args=(code, 500), rounds=3, iterations=1)
    _record(benchmark, "substring: cut_ranges (ours)", sum(map(len, code)) / 1e6, "MB/s")


@pytest.mark.benchmark(group="substring dedup (min 500 bytes)")
def test_substring_raw_sa_lcp_baseline(benchmark, code: list[bytes]) -> None:
    from pydivsufsort import divsufsort, kasai

    data, _ = concat(code)
    benchmark.pedantic(lambda: kasai(data, divsufsort(data)), rounds=3, iterations=1)
    _record(
        benchmark, "substring: pydivsufsort SA + kasai LCP only (baseline)", sum(map(len, code)) / 1e6, "MB/s"
    )


def teardown_module(module) -> None:
    print("\nthroughput per core:")
    for name, (rate, unit) in RESULTS.items():
        print(f"  {name:58s} {rate:10.1f} {unit}")
    ours = RESULTS.get("minhash: ours (xxh3 words + numba)")
    base = RESULTS.get("minhash: datasketch MinHash.bulk (baseline)")
    if ours and base:
        print(f"  minhash speedup vs datasketch: {ours[0] / base[0]:.1f}x (goal >= 3x)")
