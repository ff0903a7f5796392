"""Word n-gram shingle hashes of a batch of texts: a numpy definition, and a compiled kernel that
gives the very same values about ten times faster.

A text's words are the runs of non-space bytes of `normalize.folded(text)` (so `words(text)`).
A word's hash is the polynomial hash of its bytes (`texthash.BYTE_BASE`, mod 2^64) xor its length,
through the splitmix64 finalizer, as `texthash.word_hashes` hashes words. An n-gram's hash combines
its n word hashes in order (`h = (h * C) ^ w`, then the finalizer again); a text with fewer than n
words has one shingle, all its words combined; an empty text has none.

Every value is made with wrapping uint64 arithmetic, so numpy and numba compute the same bits; a
test pins it. The kernel does in one pass over the bytes what the numpy version needs a Python
object per word for, which is where MinHash spent most of its time.

    flat, offsets = shingle_batch(texts, 5)   # text i's shingles: flat[offsets[i]:offsets[i+1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from runners.curation.jit import njit
from runners.curation.normalize import folded
from runners.curation.texthash import BYTE_BASE, mix, word_hashes_of_bytes

C = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for order-aware combining
KERNEL_MIN_BYTES = 1 << 20  # below this, importing numba (~0.3 s) costs more than the kernel saves


def shingle_batch(texts: Sequence[str], ngram: int = 5, *, use_numba: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, offsets), text i's being `flat[offsets[i]:offsets[i+1]]`, in
    text order, repeats included."""
    data = [folded(t) for t in texts]
    kernel = compiled() if use_numba and sum(map(len, data)) >= KERNEL_MIN_BYTES else None
    if kernel is None:
        return _numpy(data, ngram)
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, data), dtype=np.int64, count=len(data)), out=offsets[1:])
    buf = np.frombuffer(b"".join(data), dtype=np.uint8)
    flat = np.empty(len(buf) // 2 + len(data) + 1, dtype=np.uint64)  # NOTE: a word takes >= 2 bytes with its space
    counts = np.zeros(len(data), dtype=np.int64)
    kernel(buf, offsets, ngram, np.uint64(BYTE_BASE), flat, counts)
    out = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return flat[: int(out[-1])].copy(), out


def _numpy(data: list[bytes], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    words = word_hashes_of_bytes(data)
    wh, word_start = words.hashes, words.doc_start
    lengths = np.diff(word_start)
    total = len(wh)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    # NOTE: h[i] combines words i .. i+n-1 across text boundaries; only starts whose n-gram lies
    # inside one text are picked below, and short texts are recombined on their own.
    h = wh.copy()
    with np.errstate(over="ignore"):
        for k in range(1, ngram):
            if total > k:
                h[: total - k] *= C
                h[: total - k] ^= wh[k:]
        pick = np.arange(int(offsets[-1]), dtype=np.int64) + np.repeat(word_start[:-1] - offsets[:-1], counts)
        flat = h[pick]
        for i in np.flatnonzero((lengths > 0) & (lengths < ngram)).tolist():
            g = wh[word_start[i] : word_start[i] + 1].copy()
            for w in wh[word_start[i] + 1 : word_start[i + 1]]:
                g *= C
                g ^= w
            flat[offsets[i]] = g[0]
        return mix(flat), offsets


@lru_cache(maxsize=1)
def compiled() -> Any:
    """The numba kernel (compiled once, cached on disk), or None without numba."""
    jit = njit()
    if jit is None:
        return None

    @jit
    def finish(h):  # pragma: no cover - compiled
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        return h ^ (h >> np.uint64(31))

    @jit
    def kernel(buf, offsets, n, base, flat, counts):  # pragma: no cover - compiled
        c = np.uint64(0x9E3779B97F4A7C15)
        ring = np.zeros(n, dtype=np.uint64)  # the last n word hashes of the text
        w = 0
        for d in range(offsets.shape[0] - 1):
            i, end, words, first = offsets[d], offsets[d + 1], 0, w
            while i < end:
                if buf[i] == 32:
                    i += 1
                    continue
                raw, power, length = np.uint64(0), np.uint64(1), 0
                while i < end and buf[i] != 32:
                    raw += np.uint64(buf[i]) * power
                    power *= base
                    length += 1
                    i += 1
                ring[words % n] = finish(raw ^ np.uint64(length))
                words += 1
                if words >= n:
                    g = ring[(words - n) % n]
                    for k in range(1, n):
                        g = (g * c) ^ ring[(words - n + k) % n]
                    flat[w] = finish(g)
                    w += 1
            if 0 < words < n:
                g = ring[0]
                for k in range(1, words):
                    g = (g * c) ^ ring[k]
                flat[w] = finish(g)
                w += 1
            counts[d] = w - first

    return kernel
