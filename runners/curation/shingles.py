"""Word n-gram shingle hashes of a batch of texts.

A text's words are `normalize.words(text)`. A word's hash is xxh3_64 of its UTF-8 bytes (one C call
per word). An n-gram's hash combines its n word hashes in order (`h = (h * C) ^ w`, then the
splitmix64 finalizer); a text with fewer than n words has one shingle, all its words combined; an
empty text has none.

The word hash is what fixes which documents LSH draws as candidates, so it stays xxh3: a faster
polynomial word hash in a compiled pass (tried: 4x faster shingling) kept 1,337 instead of 1,339
of the tiny spec's web documents, and the demo's SFT model trained on that data came out much
weaker at arithmetic. Changing it is a change of every MinHash result, not a speed-up.

    flat, offsets = shingle_batch(texts, 5)   # text i's shingles: flat[offsets[i]:offsets[i+1]]
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np
import xxhash

from runners.curation.normalize import words
from runners.curation.texthash import mix

C = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant (golden ratio) for order-aware combining


def shingle_batch(texts: Sequence[str], ngram: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(flat uint64 shingle hashes, offsets), text i's being `flat[offsets[i]:offsets[i+1]]`, in
    text order, repeats included. Batching is what makes this fast: one xxh3 call per word, then a
    handful of numpy passes over all the texts' word hashes instead of a handful per text."""
    per_text = [words(t) for t in texts]
    lengths = np.fromiter(map(len, per_text), dtype=np.int64, count=len(per_text))
    word_start = np.zeros(len(per_text) + 1, dtype=np.int64)
    np.cumsum(lengths, out=word_start[1:])
    total = int(word_start[-1])
    wh = np.fromiter(map(xxhash.xxh3_64_intdigest, chain.from_iterable(per_text)), dtype=np.uint64, count=total)
    counts = np.where(lengths >= ngram, lengths - ngram + 1, (lengths > 0).astype(np.int64))
    offsets = np.zeros(len(per_text) + 1, dtype=np.int64)
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
