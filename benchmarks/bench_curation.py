"""Curation throughput, each measured against a named baseline in the same run.

    .venv/bin/python -m pytest benchmarks/test_bench_curation.py --benchmark-only \
        --benchmark-columns=min,mean,stddev,rounds --benchmark-group-by=group

- decontamination: `scan` (numpy polynomial hashing + bitmap prefilter) vs `scan_reference`
  (pure Python: per-document set of n-gram strings intersected with a dict of evaluation n-grams).
  The figure that matters is MB/s per core (`extra_info["MB_per_s"]`, printed at the end).
- tokenization: `write_shard` (encode_batch + EOS + uint16 shard on disk) vs `encode_batch` alone.

The corpus is real text on every Debian/Python machine: the standard library's sources, the licence
texts and the package descriptions, cut into ~4 KB documents.
"""

from __future__ import annotations

import ast
import sys
import warnings
from pathlib import Path

import pytest

from runners.curation.decontam import build_index, scan, scan_reference
from runners.curation.tokenize import train_tokenizer, write_shard

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"
RESULTS: dict[str, tuple[float, float]] = {}


def _corpus() -> list[str]:
    texts = [p.read_text(errors="replace") for p in sorted(STDLIB.glob("*.py"))]
    texts += [p.read_text(errors="replace") for p in sorted(Path("/usr/share/common-licenses").glob("*"))]
    status = Path("/var/lib/dpkg/status")
    if status.exists():
        texts.append(status.read_text(errors="replace"))
    docs = []
    for t in texts:
        docs.extend(t[i : i + 4096] for i in range(0, len(t), 4096))
    return docs


def _items(n: int = 2000) -> list[dict]:
    """Evaluation items: docstring paragraphs of the test suite (not in the corpus) as Q + A."""
    out = []
    for path in sorted((STDLIB / "test").glob("test_*.py")):
        try:
            with warnings.catch_warnings():  # old escape sequences in some test files
                warnings.simplefilter("ignore")
                tree = ast.parse(path.read_text(errors="replace"))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and ast.get_docstring(node):
                words = ast.get_docstring(node).split()
                if len(words) >= 12:
                    cut = len(words) * 2 // 3
                    out.append({"id": f"{path.stem}:{node.name}:{len(out)}",
                                "question": " ".join(words[:cut]), "answer": " ".join(words[cut:])})
        if len(out) >= n:
            break
    return out[:n]


@pytest.fixture(scope="module")
def corpus():
    return _corpus()


@pytest.fixture(scope="module")
def items():
    return _items()


def _record(benchmark, name: str, n_bytes: int) -> None:
    """MB/s at the mean and at the best round (the best is what a quiet core gives)."""
    mean, best = (n_bytes / 1e6 / getattr(benchmark.stats.stats, k) for k in ("mean", "min"))
    benchmark.extra_info["MB_per_s"] = round(mean, 2)
    benchmark.extra_info["MB_per_s_best"] = round(best, 2)
    RESULTS[name] = (mean, best)


@pytest.mark.benchmark(group="decontamination")
def test_decontam_vectorized(benchmark, corpus, items):
    index = build_index({"stdlib_tests": items})
    scan(corpus[:20], index)  # warm the power tables
    benchmark.pedantic(scan, args=(corpus, index), rounds=10, iterations=1)
    _record(benchmark, "decontam scan (ours)", sum(len(t.encode()) for t in corpus))


@pytest.mark.benchmark(group="decontamination")
def test_decontam_naive_baseline(benchmark, corpus, items):
    benchmark.pedantic(scan_reference, args=(corpus, {"stdlib_tests": items}), rounds=2, iterations=1)
    _record(benchmark, "decontam naive python sets (baseline)", sum(len(t.encode()) for t in corpus))


@pytest.fixture(scope="module")
def tokenizer(corpus):
    return train_tokenizer(corpus[:1500], vocab_size=8000)


@pytest.mark.benchmark(group="tokenization")
def test_tokenize_write_shard(benchmark, corpus, tokenizer, tmp_path):
    docs = [{"id": str(i), "text": t} for i, t in enumerate(corpus)]
    args = (docs, tokenizer, tmp_path / "shard", "bench")
    benchmark.pedantic(write_shard, args=args, rounds=3, iterations=1)
    _record(benchmark, "write_shard (ours)", sum(len(t.encode()) for t in corpus))


@pytest.mark.benchmark(group="tokenization")
def test_tokenize_encode_batch_baseline(benchmark, corpus, tokenizer):
    def encode_all():
        for i in range(0, len(corpus), 512):
            tokenizer.backend.encode_batch(corpus[i : i + 512], add_special_tokens=False)

    benchmark.pedantic(encode_all, rounds=3, iterations=1)
    _record(benchmark, "tokenizers encode_batch alone (baseline)", sum(len(t.encode()) for t in corpus))


def teardown_module(module):
    print("\nthroughput (MB/s)                                  mean     best")
    for name, (mean, best) in RESULTS.items():
        print(f"  {name:45s} {mean:8.2f} {best:8.2f}")
