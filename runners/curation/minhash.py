"""MinHash signatures of documents: word n-gram shingles, 64-bit hashes, (a*h+b) mod (2^61-1).

Shingles are word n-grams (default 5) over `normalize.words` (datatrove-style normalization);
never character n-grams, which link unrelated documents through shared boilerplate (a character
5-gram + transitive-closure run produced one 859k-document cluster in marin#6854).

Hashing, in three vectorized steps:

1. each word -> xxh3_64 of its UTF-8 bytes: for a large batch, XXH3 itself compiled
   (`runners.curation.word_hash`, the library's values bit for bit), else one library call per
   word. The word hash decides which documents LSH draws as candidates, so changing it changes
   every MinHash result: a compiled polynomial word hash kept 1,337 instead of 1,339 of the tiny
   spec's web documents, and the demo's SFT model trained on that data came out far weaker;
2. each n-gram -> a 64-bit hash combining its n word hashes in order (`h = (h * C) ^ w`, then the
   splitmix64 finalizer), in a few numpy passes over a whole batch of documents. It depends on the
   n-gram's words alone, so it is a hash of the n-gram's text (distinct n-grams collide with
   probability ~2^-64), without building and hashing one Python string per shingle, which is
   where datasketch spends its time;
3. permutation i maps a shingle hash h to `(a_i*h + b_i) mod 2^64`, reduced modulo the Mersenne
   prime 2^61-1 with `(y & p) + (y >> 61)` (datatrove computes the same family with numpy's
   wrapping uint64 arithmetic); the signature is the per-permutation minimum over the shingles.

Step 3 (shingles x permutations per document) runs in a numba kernel when numba is installed
(about 10x the chunked numpy version, which is the fallback and gives identical values).

    cfg = MinHashConfig.make(threshold=0.8)           # or bands=26, rows=11 (OLMo 3)
    flat, offsets = shingle_batch(texts, cfg.ngram)
    sig = signatures_flat(flat, offsets, cfg.num_perm, cfg.seed)  # (n, num_perm) uint64
    keys = band_keys(sig, cfg.bands, cfg.rows)        # (n, bands) uint64
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

import numpy as np
import xxhash

from runners.curation.jit import KERNEL_MIN_BYTES, loaded, njit
from runners.curation.normalize import word_bytes

MERSENNE = np.uint64((1 << 61) - 1)
EMPTY = np.uint64(0xFFFFFFFFFFFFFFFF)  # the signature value of a document without shingles
OLMO3_BANDS, OLMO3_ROWS = 26, 11
_C = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for order-aware combining
_NUMBA_MIN_WORK = 2_000_000  # shingles x permutations below which numpy is faster than importing numba


@dataclass(frozen=True, slots=True)
class MinHashConfig:
    """MinHash + LSH settings. `threshold` is also the exact-Jaccard bar verification applies."""

    threshold: float = 0.8
    ngram: int = 5
    num_perm: int = OLMO3_BANDS * OLMO3_ROWS
    bands: int = OLMO3_BANDS
    rows: int = OLMO3_ROWS
    seed: int = 1
    max_cluster: int = 500
    recheck_bands: int = 200  # the stricter MinHash for clusters over max_cluster (OLMo 3: 200 x 31)
    recheck_rows: int = 31

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {self.threshold}")
        if self.ngram < 1 or self.bands < 1 or self.rows < 1:
            raise ValueError("ngram, bands and rows must be at least 1")
        if self.bands * self.rows > self.num_perm:
            raise ValueError(f"bands x rows = {self.bands * self.rows} exceeds num_perm = {self.num_perm}")

    @classmethod
    def make(
        cls,
        threshold: float = 0.8,
        ngram: int = 5,
        bands: int | None = None,
        rows: int | None = None,
        permutations: int | None = None,
        **extra: Any,
    ) -> MinHashConfig:
        """Settings from the CLI's options: give bands and rows, or neither, and they are derived
        from `threshold` for `permutations` (default 286, OLMo 3's count; at threshold 0.8 the
        derivation gives OLMo 3's 26 x 11)."""
        if (bands is None) != (rows is None):
            raise ValueError("give both bands and rows, or neither (then they come from the threshold)")
        if bands is None or rows is None:
            num_perm = permutations or OLMO3_BANDS * OLMO3_ROWS
            bands, rows = optimal_bands_rows(threshold, num_perm)
        else:
            num_perm = permutations or bands * rows
        return cls(threshold=threshold, ngram=ngram, num_perm=num_perm, bands=bands, rows=rows, **extra)


def candidate_probability(similarity: np.ndarray | float, bands: int, rows: int) -> np.ndarray | float:
    """P(two documents with Jaccard s share a bucket) = 1 - (1 - s^r)^b: the LSH S-curve."""
    return 1.0 - (1.0 - np.power(similarity, rows)) ** bands


def optimal_bands_rows(
    threshold: float, num_perm: int, fp_weight: float = 0.1, fn_weight: float = 0.9
) -> tuple[int, int]:
    """(b, r) with b*r <= num_perm minimizing the weighted false-positive area (below the
    threshold) plus false-negative area (above it), as datasketch's `_optimal_param` does.

    NOTE: the default weights favour recall (0.1 / 0.9), unlike datasketch's 0.5 / 0.5: every
    candidate is verified by exact Jaccard, so a false positive costs one set intersection while a
    false negative is a duplicate that stays. At threshold 0.8 and 286 permutations these weights
    give OLMo 3's 26 x 11 (P(candidate | J=0.8) = 0.90); equal weights give 17 x 16 (0.38).
    """
    below = np.linspace(0.0, threshold, 201)
    above = np.linspace(threshold, 1.0, 201)
    best, best_cost = (1, 1), np.inf
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = np.trapezoid(candidate_probability(below, b, r), below)
            fn = np.trapezoid(1.0 - candidate_probability(above, b, r), above)
            cost = fp_weight * fp + fn_weight * fn
            if cost < best_cost:
                best, best_cost = (b, r), cost
    return best


def _fmix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the whole word (in place)."""
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def shingle_batch(texts: Sequence[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """The word n-gram hashes of many texts at once: (flat uint64 array, offsets), text i's being
    `flat[offsets[i]:offsets[i+1]]`, in text order, repeats included. A text shorter than n words
    is one shingle (all its words); an empty text has none.

    Batching is what makes this fast: every word hashed in one compiled pass (one library call per
    word for a small batch), then a handful of numpy passes over all the texts' word hashes
    instead of a handful per text.
    """
    wh, lengths = word_hashes(texts)
    word_start = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=word_start[1:])
    total = int(word_start[-1])
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    offsets = np.zeros(len(texts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # NOTE: h[i] combines words i .. i+n-1 across text boundaries; only starts whose n-gram lies
    # inside one text are picked below, and short texts are recombined on their own.
    h = wh.copy()
    for k in range(1, ngram):
        if total > k:
            h[: total - k] *= _C
            h[: total - k] ^= wh[k:]
    pick = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(word_start[:-1] - offsets[:-1], counts)
    flat = h[pick]
    for i in np.flatnonzero((lengths > 0) & (lengths < ngram)).tolist():
        flat[offsets[i]] = _combine(wh[word_start[i] : word_start[i + 1]])
    return _fmix64(flat), offsets


_KERNEL_MIN_BYTES = KERNEL_MIN_BYTES


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(xxh3_64 of every word of every text, in order; words per text). A batch of at least
    _KERNEL_MIN_BYTES, or any batch once the kernel is loaded, hashes in the compiled kernel."""
    folded = [word_bytes(t) for t in texts]
    size = sum(map(len, folded))
    if _kernel_loaded() or size >= _KERNEL_MIN_BYTES:
        from runners.curation.word_hash import word_hashes as compiled

        starts = np.zeros(len(folded) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, folded), dtype=np.int64, count=len(folded)), out=starts[1:])
        buf = np.frombuffer(b"".join(folded), dtype=np.uint8)
        done = compiled(buf, starts)
        if done is not None:
            wh, lengths, long_words = done
            for at, lo, n in long_words.tolist():
                wh[at] = xxhash.xxh3_64_intdigest(buf[lo : lo + n].tobytes())
            return wh, lengths
    per_text = [f.split() for f in folded]
    lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    wh = np.fromiter(map(xxhash.xxh3_64_intdigest, chain.from_iterable(per_text)), dtype=np.uint64,
                     count=int(lengths.sum()))
    return wh, lengths


def _kernel_loaded() -> bool:
    return loaded("runners.curation.word_hash", "_kernel")


def _combine(hashes: np.ndarray) -> np.uint64:
    h = hashes[:1].copy()
    for w in hashes[1:]:
        h *= _C
        h ^= w
    return h[0]


def shingle_hashes(text: str, ngram: int = 5) -> np.ndarray:
    """Sorted unique 64-bit hashes of the word n-grams of one text (its shingle set)."""
    return sorted_unique(shingle_batch([text], ngram)[0])


def sorted_unique(x: np.ndarray) -> np.ndarray:
    """`np.unique` of a 1-d array by sorting: numpy 2's hashing `unique` is ~9x slower on uint64."""
    a = np.sort(x)
    if len(a) < 2:
        return a
    keep = np.empty(len(a), dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def permutations(num_perm: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) of each permutation: a in [1, p), b in [0, p), from a seeded PCG64."""
    rng = np.random.Generator(np.random.PCG64(seed))
    a = rng.integers(1, int(MERSENNE), size=num_perm, dtype=np.uint64)
    b = rng.integers(0, int(MERSENNE), size=num_perm, dtype=np.uint64)
    return a, b


def signatures(
    shingles: list[np.ndarray], num_perm: int, seed: int = 1, *, use_numba: bool = True
) -> np.ndarray:
    """(n_docs, num_perm) uint64 MinHash signatures of per-document shingle-hash arrays."""
    offsets = np.zeros(len(shingles) + 1, dtype=np.int64)
    np.cumsum([len(s) for s in shingles], out=offsets[1:])
    flat = np.concatenate(shingles) if shingles else np.empty(0, dtype=np.uint64)
    return signatures_flat(flat, offsets, num_perm, seed, use_numba=use_numba)


def signatures_flat(
    flat: np.ndarray, offsets: np.ndarray, num_perm: int, seed: int = 1, *, use_numba: bool = True
) -> np.ndarray:
    """Signatures of `shingle_batch` output; a document without shingles gets all EMPTY."""
    a, b = permutations(num_perm, seed)
    out = np.empty((len(offsets) - 1, num_perm), dtype=np.uint64)
    # NOTE: numba costs ~0.5 s to import: small batches (a one-line file) take the numpy kernel
    big = len(flat) * num_perm >= _NUMBA_MIN_WORK
    kernel = _numba_kernel() if use_numba and big else None
    if kernel is not None:
        kernel(flat, offsets, a, b, out)
    else:
        _numpy_kernel(flat, offsets, a, b, out)
    return out


def _numpy_kernel(
    flat: np.ndarray, offsets: np.ndarray, a: np.ndarray, b: np.ndarray, out: np.ndarray
) -> None:
    # NOTE: chunks of 32 shingles keep the (32, num_perm) temporaries in L1/L2; one big
    # (shingles, num_perm) matrix per document is memory-bound and about 2x slower.
    chunk = 32
    buf = np.empty((chunk, len(a)), dtype=np.uint64)
    tmp = np.empty_like(buf)
    row_min = np.empty(len(a), dtype=np.uint64)
    for d in range(len(out)):
        o = out[d]
        o[:] = EMPTY
        for s in range(int(offsets[d]), int(offsets[d + 1]), chunk):
            h = flat[s : min(s + chunk, int(offsets[d + 1]))]
            y, t = buf[: len(h)], tmp[: len(h)]
            np.multiply(h[:, None], a, out=y)
            y += b
            np.right_shift(y, np.uint64(61), out=t)
            y &= MERSENNE
            y += t
            y.min(axis=0, out=row_min)
            np.minimum(o, row_min, out=o)


@lru_cache(maxsize=1)
def _numba_kernel() -> Any:
    jit = njit()
    if jit is None:
        return None

    @jit
    def kernel(flat, offsets, a, b, out):  # pragma: no cover - compiled
        p = np.uint64((1 << 61) - 1)
        k = a.shape[0]
        for d in range(offsets.shape[0] - 1):
            for j in range(k):
                out[d, j] = np.uint64(0xFFFFFFFFFFFFFFFF)
            for i in range(offsets[d], offsets[d + 1]):
                h = flat[i]
                for j in range(k):
                    y = a[j] * h + b[j]
                    y = (y & p) + (y >> np.uint64(61))
                    out[d, j] = min(out[d, j], y)

    return kernel


def band_keys(sigs: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """(n_docs, bands) uint64: one 64-bit key per band of `rows` signature values. Two documents
    share bucket j when their band-j keys are equal (a false key collision, ~n^2/2^64, is caught
    by verification like any other false candidate)."""
    keys = np.empty((len(sigs), bands), dtype=np.uint64)
    for j in range(bands):
        h = np.full(len(sigs), np.uint64(j), dtype=np.uint64)
        for c in range(j * rows, (j + 1) * rows):
            h *= _C
            h ^= sigs[:, c]
            h = _fmix64(h)
        keys[:, j] = h
    return keys


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sorted unique shingle-hash arrays."""
    if len(a) == 0 and len(b) == 0:
        return 1.0
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter)
