"""`normalize_exact` for a whole batch of texts in one compiled pass over their UTF-8 bytes.

Exact dedup spends most of its time normalizing (NFC, lowercase, whitespace collapsed): in Python,
`" ".join(text.lower().split())` makes one object per word and costs as much as the naive script it
must beat. This kernel (numba, already a `curate` dependency for MinHash) decodes each text's UTF-8,
lowercases and collapses whitespace character by character from tables built off the running
Python's own Unicode database, and writes the normalized bytes, so they equal `normalize_exact`'s.

Texts the tables cannot decide are marked for the Python definition instead, so that the result
never differs from it:

- one that NFC might change, by Unicode's NFC quick check: a character that is not NFC by itself or
  may compose with the one before it (the second half of a canonical composition, a Hangul vowel
  or final), or combining marks out of canonical order;
- a character whose lowercase is not one character (U+0130) or depends on context (capital sigma,
  which Python lowercases to the final form at the end of a word);
- any character above U+1FFFF (the tables stop there to build in a tenth of a second).

    kernel = compiled()            # None when numba is missing
    data, spans, slow = normalize_batch(kernel, texts)
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.jit import njit

SPACE, PYTHON = 1, 2  # flag bits per character: whitespace; the text needs the Python definition
LIMIT = 0x20000  # the tables cover the BMP and the plane of emoji and mathematical letters


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, flags, ccc), one entry per code point below LIMIT: the single-character lowercase,
    SPACE/PYTHON, and the canonical combining class. Built in ~0.4 s, so kept on disk beside
    numba's cache of the kernel, per Unicode version (a folder that cannot be written just means
    building them each time)."""
    cache = Path(os.environ.get("NUMBA_CACHE_DIR") or Path(__file__).parent / "__pycache__")
    path = cache / f"exact_tables-{unicodedata.unidata_version}-{LIMIT:x}.npz"
    try:
        with np.load(path) as saved:
            return saved["lower"], saved["flags"], saved["ccc"]
    except (OSError, KeyError, ValueError):
        pass
    built = _build_tables()
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp.npz")
        np.savez(tmp, lower=built[0], flags=built[1], ccc=built[2])
        os.replace(tmp, path)
    except OSError:
        pass
    return built


def _build_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lower = np.arange(LIMIT, dtype=np.int32)
    flags = np.zeros(LIMIT, dtype=np.uint8)
    ccc = np.zeros(LIMIT, dtype=np.uint8)
    second_halves = set()
    for cp in range(LIMIT):
        c = chr(cp)
        if 0xD800 <= cp < 0xE000:  # NOTE: surrogates never reach here (UTF-8 encoding rejects them)
            flags[cp] = PYTHON
            continue
        if c.isspace():
            flags[cp] |= SPACE
        low = c.lower()
        if len(low) == 1:
            lower[cp] = ord(low)
        else:
            flags[cp] |= PYTHON
        ccc[cp] = unicodedata.combining(c)
        if unicodedata.normalize("NFC", c) != c:
            flags[cp] |= PYTHON
        parts = unicodedata.decomposition(c).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second_halves.add(int(parts[1], 16))
    for cp in second_halves:
        if cp < LIMIT:
            flags[cp] |= PYTHON
    flags[0x1161:0x1176] |= PYTHON  # Hangul medial vowels and finals compose with what precedes them
    flags[0x11A8:0x11C3] |= PYTHON
    flags[0x03A3] |= PYTHON  # capital sigma: Python's lower() picks the final form by context
    return lower, flags, ccc


@lru_cache(maxsize=1)
def compiled() -> Any:
    """The numba kernel, compiled once (cached on disk), or None without numba."""
    jit = njit()
    if jit is None:
        return None

    @jit
    def kernel(data, offsets, lower, flags, ccc, out, spans, slow):  # pragma: no cover - compiled
        limit = lower.shape[0]
        w = 0
        for d in range(offsets.shape[0] - 1):
            start = w
            pending = False  # whitespace seen since the last written character
            last_ccc = 0
            i, end = offsets[d], offsets[d + 1]
            while i < end:
                b0 = np.int64(data[i])
                if b0 < 0x80:  # NOTE: ASCII, most bytes: no combining class, lowercase by arithmetic
                    i += 1
                    last_ccc = 0
                    space = flags[b0] & 1
                    c = b0 + 32 if 65 <= b0 <= 90 else b0
                else:
                    if b0 < 0xE0:
                        cp, n = ((b0 & 0x1F) << 6) | (np.int64(data[i + 1]) & 0x3F), 2
                    elif b0 < 0xF0:
                        cp = (((b0 & 0x0F) << 12) | ((np.int64(data[i + 1]) & 0x3F) << 6)
                              | (np.int64(data[i + 2]) & 0x3F))
                        n = 3
                    else:
                        cp = (((b0 & 0x07) << 18) | ((np.int64(data[i + 1]) & 0x3F) << 12)
                              | ((np.int64(data[i + 2]) & 0x3F) << 6) | (np.int64(data[i + 3]) & 0x3F))
                        n = 4
                    i += n
                    if cp >= limit or flags[cp] & 2:
                        slow[d] = True
                        break
                    k = ccc[cp]
                    if k != 0 and last_ccc > k:  # NOTE: marks out of canonical order: NFC reorders them
                        slow[d] = True
                        break
                    last_ccc = k
                    space = flags[cp] & 1
                    c = lower[cp]
                if space:
                    pending = w > start
                    continue
                if pending:
                    out[w] = 32
                    w += 1
                    pending = False
                if c < 0x80:
                    out[w] = c
                    w += 1
                elif c < 0x800:
                    out[w] = 0xC0 | (c >> 6)
                    out[w + 1] = 0x80 | (c & 0x3F)
                    w += 2
                elif c < 0x10000:
                    out[w] = 0xE0 | (c >> 12)
                    out[w + 1] = 0x80 | ((c >> 6) & 0x3F)
                    out[w + 2] = 0x80 | (c & 0x3F)
                    w += 3
                else:
                    out[w] = 0xF0 | (c >> 18)
                    out[w + 1] = 0x80 | ((c >> 12) & 0x3F)
                    out[w + 2] = 0x80 | ((c >> 6) & 0x3F)
                    out[w + 3] = 0x80 | (c & 0x3F)
                    w += 4
            if slow[d]:
                w = start
            spans[d, 0] = start
            spans[d, 1] = w

    return kernel


def normalize_batch(kernel: Any, texts: Sequence[str]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """(normalized bytes of the batch, (n, 2) spans into them, n bools: "use normalize_exact")."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    # NOTE: a lowercase can take one byte more than its capital (U+023A, 2 bytes -> U+2C65, 3 bytes)
    out = np.empty(len(data) * 3 // 2 + 8, dtype=np.uint8)
    spans = np.zeros((len(texts), 2), dtype=np.int64)
    slow = np.zeros(len(texts), dtype=np.bool_)
    kernel(data, offsets, *tables(), out, spans, slow)
    return out[: int(spans[-1, 1]) if len(texts) else 0].tobytes(), spans, slow
