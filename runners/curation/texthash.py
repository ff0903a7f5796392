"""Vectorized word and word-n-gram hashing for batches of texts (numpy, no Python loop per word).

Each word's hash is a polynomial hash of its bytes read off one prefix sum over the batch buffer, and
each n-gram's hash a polynomial of its word hashes read off a second prefix sum, both mod 2**64 and
finished with the splitmix64 mixer. Words are runs of non-space bytes: callers normalize first
(decontamination strips punctuation; the quality classifier spaces it out). The hashes are stable
across processes and machines (no Python `hash`), so an index built once can be shipped to workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

U64 = np.uint64
# NOTE: odd multipliers are invertible mod 2**64, which is what lets a substring's hash be read off
# a prefix sum: (P[j] - P[i]) * B**-i. All uint64 arithmetic below wraps mod 2**64 on purpose.
BYTE_BASE = 0x100000001B3
WORD_BASE = 0x9E3779B97F4A7C15


def _mix(h: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: spreads the weak low bits of a polynomial hash over all 64 bits."""
    h = h ^ (h >> U64(30))
    h = h * U64(0xBF58476D1CE4E5B9)
    h = h ^ (h >> U64(27))
    h = h * U64(0x94D049BB133111EB)
    return h ^ (h >> U64(31))


def _power_series(base: int, n: int) -> np.ndarray:
    """base**k mod 2**64 for k < n, as an outer product of two short series (n is a power of 2)."""
    step = 1 << 12
    small = [1]
    for _ in range(step - 1):
        small.append(small[-1] * base % (1 << 64))
    big = [pow(base, step * i, 1 << 64) for i in range(max(1, n // step))]
    with np.errstate(over="ignore"):
        return np.multiply.outer(np.array(big, dtype=U64), np.array(small, dtype=U64)).ravel()[:n]


@lru_cache(maxsize=4)
def _powers(base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """base**k and base**-k mod 2**64 for k < n (n is rounded up by the caller so this caches)."""
    return _power_series(base, n), _power_series(pow(base, -1, 1 << 64), n)


def _pow_table(base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    size = 1 << max(16, int(n).bit_length())
    return _powers(base, size)


@dataclass(frozen=True, slots=True)
class Words:
    """Word hashes of a batch of normalized texts, and where each text's words start."""

    hashes: np.ndarray  # uint64, one per word, all texts concatenated
    doc_start: np.ndarray  # int64, len n_texts + 1: text t has words [doc_start[t], doc_start[t+1])


def word_hashes(normalized: Sequence[str], solo: bytes = b"") -> Words:
    """Hash every word of prenormalized texts (words separated by runs of spaces) in one pass.

    Bytes listed in `solo` (ASCII punctuation, say) are words of their own even when not spaced out,
    so "end.|Home" is the words "end", ".", "|", "home" without rewriting the text first.
    """
    encoded = [s.encode("utf-8") for s in normalized]
    # NOTE: text t occupies buf[byte_start[t] : byte_start[t] + len]; a space before and after every
    # text means no word crosses texts and every word has a space on both sides.
    buf = np.frombuffer(b" " + b" ".join(encoded) + b" ", dtype=np.uint8)
    is_word = buf != 0x20
    boundary = ~is_word[:-1] | ~is_word[1:]  # between byte i and byte i+1
    if solo:
        lut = np.zeros(256, dtype=bool)
        lut[list(solo)] = True
        is_solo = lut[buf]
        boundary |= is_solo[:-1] | is_solo[1:]
    starts = np.flatnonzero(is_word[1:] & boundary) + 1
    ends = np.flatnonzero(is_word[:-1] & boundary) + 1
    byte_start = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) + 1 for e in encoded], out=byte_start[1:])
    doc_start = np.searchsorted(starts, byte_start).astype(np.int64)
    if len(starts) == 0:
        return Words(np.zeros(0, U64), doc_start)
    fwd, bwd = _pow_table(BYTE_BASE, len(buf) + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(buf) + 1, dtype=U64)
        # NOTE: byte values enter the sum as they are; a NUL byte adding 0 cannot make two words
        # collide because the word length is mixed in below.
        np.cumsum(np.multiply(buf, fwd[: len(buf)], dtype=U64), out=prefix[1:])
        raw = (prefix[ends] - prefix[starts]) * bwd[starts]
        hashes = _mix(raw ^ (ends - starts).astype(U64))
    return Words(hashes, doc_start)


def ngram_hashes(words: Words, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash of every n-word window that lies inside one text, and the text it lies in."""
    w = words.hashes
    m = len(w) - n + 1
    if m <= 0:
        return np.zeros(0, U64), np.zeros(0, np.int64)
    fwd, bwd = _pow_table(WORD_BASE, len(w) + 1)
    with np.errstate(over="ignore"):
        prefix = np.zeros(len(w) + 1, dtype=U64)
        np.cumsum(w * fwd[: len(w)], dtype=U64, out=prefix[1:])
        grams = _mix((prefix[n:] - prefix[:m]) * bwd[:m] + U64(n))
    doc_of_word = np.repeat(np.arange(len(words.doc_start) - 1), np.diff(words.doc_start))
    inside = doc_of_word[:m] == doc_of_word[n - 1 :]
    return grams[inside], doc_of_word[:m][inside]
