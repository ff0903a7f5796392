"""MinHash: shingling, the estimator, the LSH S-curve, (b, r) derivation, and recall/precision on a
real corpus with planted near-duplicates against brute-force ground truth."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from dedup_corpus import planted, real_documents, similar_pairs

from runners.curation.lsh import minhash_dedup
from runners.curation.minhash import (
    MinHashConfig,
    band_keys,
    candidate_probability,
    jaccard,
    optimal_bands_rows,
    shingle_hashes,
    signatures,
)
from runners.curation.normalize import words
from runners.curation.unionfind import UnionFind


def test_ascii_fast_path_gives_the_general_words() -> None:
    for text in list(real_documents()[:300]) + ["It's 2024: A_B c-d (e) x86_64 don't", "  "]:
        # a trailing no-break space is a separator that forces the general (non-ASCII) path
        assert words(text) == words(text + "\u00a0")
    assert words("Café NAÏVE 1999 co-op") == [b"cafe", b"naive", b"0000", b"co", b"op"]
    assert words("日本語 テキスト") == ["日本語".encode(), "テキスト".encode()]


def test_shingles_are_word_ngrams() -> None:
    assert len(shingle_hashes("one two three four five six seven", 5)) == 3
    assert len(shingle_hashes("One, two; THREE", 5)) == 1  # shorter than n: one shingle
    assert len(shingle_hashes(" ... ", 5)) == 0
    # same words after normalization -> same shingles; word order matters
    assert (shingle_hashes("a b c d e f", 5) == shingle_hashes("A  b\nc, d! e? F", 5)).all()
    assert not np.array_equal(shingle_hashes("a b c d e f", 5), shingle_hashes("b a c d e f", 5))


def test_numba_and_numpy_kernels_agree() -> None:
    sh = [shingle_hashes(t) for t in real_documents()[:200]] + [np.empty(0, np.uint64)]
    a = signatures(sh, 128, seed=3)
    b = signatures(sh, 128, seed=3, use_numba=False)
    assert (a == b).all()
    assert (a[-1] == np.iinfo(np.uint64).max).all()


def _pair(rng: np.random.Generator, size: int, jac: float) -> tuple[np.ndarray, np.ndarray]:
    common = round(2 * size * jac / (1 + jac))  # |A & B| for |A| = |B| = size and J = jac
    pool = rng.choice(np.iinfo(np.int64).max, size=2 * size - common, replace=False).astype(np.uint64)
    return np.sort(pool[:size]), np.sort(np.concatenate([pool[:common], pool[size:]]))


@pytest.mark.parametrize("jac", [0.2, 0.5, 0.8, 0.95])
def test_estimator_is_unbiased_with_binomial_variance(jac: float) -> None:
    rng = np.random.default_rng(int(jac * 100))
    k, trials = 256, 200
    pairs = [_pair(rng, 300, jac) for _ in range(trials)]
    exact = np.array([len(np.intersect1d(a, b)) / len(np.union1d(a, b)) for a, b in pairs])
    sig = signatures([s for p in pairs for s in p], k, seed=7)
    est = (sig[0::2] == sig[1::2]).mean(axis=1)
    assert abs(est.mean() - exact.mean()) < 0.01
    expected_var = jac * (1 - jac) / k
    assert 0.7 * expected_var < np.var(est - exact) < 1.4 * expected_var


def test_estimator_agrees_with_datasketch() -> None:
    datasketch = pytest.importorskip("datasketch")
    texts = planted()[0]
    origin = planted()[1]
    n = len(real_documents())
    for i in range(40):
        a, b = texts[origin[i]], texts[n + i]
        sa, sb = shingle_hashes(a), shingle_hashes(b)
        ours = float((signatures([sa, sb], 256)[0] == signatures([sa, sb], 256)[1]).mean())
        m1, m2 = datasketch.MinHash(num_perm=256), datasketch.MinHash(num_perm=256)
        m1.update_batch([x.tobytes() for x in sa])
        m2.update_batch([x.tobytes() for x in sb])
        exact = len(np.intersect1d(sa, sb)) / len(np.union1d(sa, sb))
        assert abs(ours - m1.jaccard(m2)) < 0.15 and abs(ours - exact) < 0.12


@pytest.mark.parametrize("jac", [0.5, 0.7, 0.8, 0.9])
def test_lsh_candidate_rate_follows_the_s_curve(jac: float) -> None:
    rng = np.random.default_rng(11)
    bands, rows, trials = 20, 5, 400
    pairs = [_pair(rng, 100, jac) for _ in range(trials)]
    keys = band_keys(signatures([s for p in pairs for s in p], bands * rows, seed=5), bands, rows)
    rate = (keys[0::2] == keys[1::2]).any(axis=1).mean()
    p = candidate_probability(jac, bands, rows)
    assert abs(rate - p) <= 4 * np.sqrt(p * (1 - p) / trials) + 0.01


def test_bands_rows_derivation() -> None:
    assert optimal_bands_rows(0.8, 286) == (26, 11)  # OLMo 3's setting
    assert MinHashConfig.make(threshold=0.8).bands == 26
    lsh = pytest.importorskip("datasketch.lsh")
    for t, k in [(0.8, 128), (0.7, 256), (0.9, 112)]:
        assert optimal_bands_rows(t, k, 0.5, 0.5) == lsh._optimal_param(t, k, 0.5, 0.5)
    cfg = MinHashConfig.make(bands=14, rows=8)
    assert (cfg.num_perm, cfg.bands, cfg.rows) == (112, 14, 8)
    with pytest.raises(ValueError):
        MinHashConfig.make(bands=14)


def test_recall_and_precision_on_real_corpus() -> None:
    texts, _ = planted()
    assert len(texts) >= 5000
    threshold = 0.8
    truth = similar_pairs([shingle_hashes(t) for t in texts], threshold)
    docs = [{"id": f"d{i:05d}", "text": t} for i, t in enumerate(texts)]
    result = minhash_dedup(docs, MinHashConfig.make(threshold=threshold))
    index = {d["id"]: i for i, d in enumerate(docs)}
    cluster_of = np.arange(len(docs))
    for r in result.removed:
        cluster_of[index[r.id]] = index[r.detail]
    found = sum(cluster_of[i] == cluster_of[j] for i, j in truth)
    recall = found / len(truth)
    print(
        f"\ntrue pairs {len(truth)}, recall {recall:.4f}, stats "
        f"{ {k: v for k, v in result.stats.items() if k != 'minhash'} }"
    )
    assert len(truth) > 1000 and recall >= 0.95
    # precision 1.0: every cluster is connected by true (J >= threshold) pairs alone
    truth_graph = UnionFind(len(docs))
    for i, j in truth:
        truth_graph.union(i, j)
    for r in result.removed:
        assert truth_graph.find(index[r.id]) == truth_graph.find(index[r.detail])
    kept_first = {d["id"] for d in result.kept}
    assert all(r.detail in kept_first and index[r.detail] < index[r.id] for r in result.removed)


def test_oversized_cluster_raises_the_alarm_and_stays_precise() -> None:
    base = "the same boilerplate footer of a web page repeated across many pages of a site"
    docs = [{"id": f"b{i:02d}", "text": f"{base} page {i}"} for i in range(30)]
    docs += [{"id": "empty", "text": ""}, {"id": "punct", "text": "!!! ..."}, {"id": "e2", "text": ""}]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = minhash_dedup(docs, MinHashConfig.make(threshold=0.8, max_cluster=10))
    assert any("exceeds max_cluster" in str(w.message) for w in caught)
    assert result.stats["oversized_clusters"] == 1
    assert result.stats["docs_without_shingles"] == 3
    assert {"empty", "punct", "e2"} <= {d["id"] for d in result.kept}
    # re-clustered with the stricter 200 x 31 MinHash: almost all pages still go, none wrongly
    kept_b = [d["id"] for d in result.kept if d["id"].startswith("b")]
    assert kept_b[0] == "b00" and len(kept_b) <= 3 and result.stats["recheck_links"] > 0
    by_id = {d["id"]: d["text"] for d in docs}
    for r in result.removed:
        assert jaccard(shingle_hashes(by_id[r.id]), shingle_hashes(by_id[r.detail])) >= 0.7


def test_shared_count_by_merge_equals_binary_search() -> None:
    from runners.curation.lsh import _merge_count, _shared

    rng = np.random.default_rng(0)
    merge = _merge_count()
    assert merge is not None, "numba is part of the curate extra"
    for size in (0, 1, 7, 1000):
        a = np.unique(rng.integers(0, 3 * size + 2, size=size, dtype=np.uint64))
        b = np.unique(rng.integers(0, 3 * size + 2, size=size + 3, dtype=np.uint64))
        expected = len(np.intersect1d(a, b))
        assert _shared(a, b, merge) == _shared(a, b, None) == expected
