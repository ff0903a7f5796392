"""MinHash's word hashes, compiled: xxh3-64 (seed 0) of every word of many texts in one call.

MinHash hashes each word with `xxhash.xxh3_64_intdigest`, one Python call per word, and that call
is most of a MinHash map's time. This kernel splits the texts' normalized bytes (`normalize.word_bytes`)
on whitespace, as `bytes.split()` does, and computes XXH3's 64-bit hash itself, so the values are
the library's, bit for bit: LSH's candidates, and so what a MinHash step keeps, depend on them. A
test checks the kernel against the library on random words of every length up to 300 bytes.

The code follows the XXH3 reference (xxhash.h, v0.8: `XXH3_len_1to3_64b` ... `XXH3_len_17to128_64b`,
and the default 192-byte secret). Words longer than 128 bytes (XXH3's next length class; URLs,
hex digests) are hashed by the library: the kernel marks them.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from runners.curation.jit import njit

# XXH3's default secret (kSecret), the first 128 bytes: the lengths hashed here read no further
_SECRET = np.frombuffer(bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"), dtype=np.uint8)
LONGEST = 128  # longer words are marked (length kept, hash 0) for the library to hash


def word_hashes(buf: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(hash per word, word count per text, indices of the words longer than LONGEST) of texts
    `buf[starts[i]:starts[i+1]]`, or None without numba. Long words' hashes are left 0; their rows
    in the (k, 3) array are (word index, start in `buf`, length)."""
    kernel = _kernel()
    if kernel is None:
        return None
    n = starts.shape[0] - 1
    out = np.empty(buf.shape[0] // 2 + n + 1, dtype=np.uint64)  # a word takes a byte and a space
    counts = np.zeros(n, dtype=np.int64)
    long_words = np.empty((buf.shape[0] // (LONGEST + 1) + 1, 3), dtype=np.int64)
    total, n_long = kernel(buf, starts, _SECRET, out, counts, long_words)
    return out[:total], counts, long_words[:n_long]


@lru_cache(maxsize=1)
def _kernel() -> Any:
    jit = njit()
    if jit is None:
        return None

    # NOTE: one compiled function, its helpers inner functions: numba caches it on disk only when
    # it captures no other compiled function
    @jit
    def kernel(buf, starts, s, out, counts, long_words):  # pragma: no cover - compiled
        u = np.uint64
        m32 = u(0xFFFFFFFF)
        p64_1, p64_2, p64_3 = u(0x9E3779B185EBCA87), u(0xC2B2AE3D27D4EB4F), u(0x165667B19E3779F9)
        mx1, mx2 = u(0x165667919E3779F9), u(0x9FB21C651E98DF25)

        def le(b, at, width):  # little-endian read
            v = u(0)
            for k in range(width):
                v |= u(b[at + k]) << u(8 * k)
            return v

        def rotl(x, r):
            return (x << u(r)) | (x >> u(64 - r))

        def swap64(x):
            v = u(0)
            for k in range(8):
                v = (v << u(8)) | ((x >> u(8 * k)) & u(0xFF))
            return v

        def fold(a, b):  # the 128-bit product a*b, its halves xored
            a_lo, a_hi, b_lo, b_hi = a & m32, a >> u(32), b & m32, b >> u(32)
            lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
            cross = (lo_lo >> u(32)) + (hi_lo & m32) + lo_hi
            upper = (hi_lo >> u(32)) + (cross >> u(32)) + hi_hi
            lower = (cross << u(32)) | (lo_lo & m32)
            return lower ^ upper

        def avalanche(h):
            h ^= h >> u(37)
            h *= mx1
            return h ^ (h >> u(32))

        def mix16(b, at, sat):
            return fold(le(b, at, 8) ^ le(s, sat, 8), le(b, at + 8, 8) ^ le(s, sat + 8, 8))

        def xxh3(b, at, n):  # 1 <= n <= 128, seed 0
            if n <= 3:
                combined = (u(b[at]) << u(16)) | (u(b[at + (n >> 1)]) << u(24)) | u(b[at + n - 1]) | (u(n) << u(8))
                h = combined ^ (le(s, 0, 4) ^ le(s, 4, 4))
                h ^= h >> u(33)
                h *= p64_2
                h ^= h >> u(29)
                h *= p64_3
                return h ^ (h >> u(32))
            if n <= 8:
                x = (le(b, at + n - 4, 4) + (le(b, at, 4) << u(32))) ^ (le(s, 8, 8) ^ le(s, 16, 8))
                x ^= rotl(x, 49) ^ rotl(x, 24)
                x *= mx2
                x ^= (x >> u(35)) + u(n)
                x *= mx2
                return x ^ (x >> u(28))
            if n <= 16:
                lo = le(b, at, 8) ^ (le(s, 24, 8) ^ le(s, 32, 8))
                hi = le(b, at + n - 8, 8) ^ (le(s, 40, 8) ^ le(s, 48, 8))
                return avalanche(u(n) + swap64(lo) + hi + fold(lo, hi))
            acc = u(n) * p64_1
            if n > 32:
                if n > 64:
                    if n > 96:
                        acc += mix16(b, at + 48, 96)
                        acc += mix16(b, at + n - 64, 112)
                    acc += mix16(b, at + 32, 64)
                    acc += mix16(b, at + n - 48, 80)
                acc += mix16(b, at + 16, 32)
                acc += mix16(b, at + n - 32, 48)
            acc += mix16(b, at, 0)
            acc += mix16(b, at + n - 16, 16)
            return avalanche(acc)

        total = 0
        n_long = 0
        for t in range(starts.shape[0] - 1):
            i, end = starts[t], starts[t + 1]
            while i < end:
                c = buf[i]
                if c == 32 or (c >= 9 and c <= 13):  # bytes.split()'s ASCII whitespace
                    i += 1
                    continue
                j = i
                while j < end and not (buf[j] == 32 or (buf[j] >= 9 and buf[j] <= 13)):
                    j += 1
                if j - i <= LONGEST:
                    out[total] = xxh3(buf, i, j - i)
                else:
                    out[total] = u(0)
                    long_words[n_long, 0], long_words[n_long, 1], long_words[n_long, 2] = total, i, j - i
                    n_long += 1
                total += 1
                counts[t] += 1
                i = j
        return total, n_long

    return kernel
