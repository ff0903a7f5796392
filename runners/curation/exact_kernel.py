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
  or final), or combining marks out of canonical order. The caller may NFC such a text in Python
  (`unicodedata.normalize`, fast C) and pass it back with `nfc_done`, and the kernel then does the
  rest: about half the texts that have such characters are NFC already;
- capital sigma, which Python lowercases by context (to the final form at the end of a word);
- any character above U+1FFFF (the tables stop there to build in a tenth of a second).

U+0130 (capital I with dot above), the one character whose lowercase is two characters ("i" and
U+0307), is written as those two.

    kernel = compiled()            # None when numba is missing
    data, spans, slow = normalize_batch(kernel, texts)
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.jit import njit

# flag bits per character: whitespace; the text needs Python's lowercase; NFC may change the text
SPACE, PYTHON, NFC = 1, 2, 4
DOTTED_I = 0x0130  # lowercases to "i" + U+0307
LIMIT = 0x20000  # the tables cover the BMP and the plane of emoji and mathematical letters


@lru_cache(maxsize=1)
def tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, flags, ccc), one entry per code point below LIMIT: the single-character lowercase
    (U+0130: its second character), SPACE/PYTHON/NFC, and the canonical combining class. Built in
    ~0.4 s, so kept on disk beside numba's cache of the kernel, per Unicode version (a folder that
    cannot be written just means building them each time)."""
    cache = Path(os.environ.get("NUMBA_CACHE_DIR") or Path(__file__).parent / "__pycache__")
    path = cache / f"exact_tables2-{unicodedata.unidata_version}-{LIMIT:x}.npz"
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
            flags[cp] = PYTHON | NFC
            continue
        if c.isspace():
            flags[cp] |= SPACE
        low = c.lower()
        if len(low) == 1:
            lower[cp] = ord(low)
        elif cp == DOTTED_I:
            lower[cp] = ord(low[1])
        else:  # NOTE: no such character today (a test pins U+0130 as the only one)
            flags[cp] |= PYTHON
        ccc[cp] = unicodedata.combining(c)
        if unicodedata.normalize("NFC", c) != c:
            flags[cp] |= NFC
        parts = unicodedata.decomposition(c).split()
        if len(parts) == 2 and not parts[0].startswith("<"):
            second_halves.add(int(parts[1], 16))
    for cp in second_halves:
        if cp < LIMIT:
            flags[cp] |= NFC
    flags[0x1161:0x1176] |= NFC  # Hangul medial vowels and finals compose with what precedes them
    flags[0x11A8:0x11C3] |= NFC
    flags[0x03A3] |= PYTHON  # capital sigma: Python's lower() picks the final form by context
    return lower, flags, ccc


@lru_cache(maxsize=1)
def compiled() -> Any:
    """The numba kernel, compiled once (cached on disk), or None without numba."""
    jit = njit()
    if jit is None:
        return None

    @jit
    def kernel(data, offsets, lower, flags, ccc, ascii_out, nfc_done, out, spans, slow):  # pragma: no cover
        limit = lower.shape[0]
        w = 0
        for d in range(offsets.shape[0] - 1):
            start = w
            # NOTE: every whitespace character is written as a space, and w moves past it only when
            # the character before was not one: runs collapse without a branch on the common path
            prev_space = True  # so that leading whitespace is dropped
            last_ccc = 0
            check_nfc = not nfc_done[d]
            i, end = offsets[d], offsets[d + 1]
            while i < end:
                b0 = data[i]
                if b0 < 0x80:  # NOTE: ASCII, most bytes: one table lookup, no combining class
                    c = ascii_out[b0]
                    space = c == 32
                    out[w] = c
                    w += 1 - (space & prev_space)
                    prev_space = space
                    last_ccc = 0
                    i += 1
                    continue
                b0 = np.int64(b0)
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
                if cp >= limit:
                    slow[d] = True
                    break
                f = flags[cp]
                if f & PYTHON or (check_nfc and f & NFC):
                    slow[d] = True
                    break
                k = ccc[cp]
                if check_nfc and k != 0 and last_ccc > k:  # NOTE: marks out of canonical order: NFC reorders them
                    slow[d] = True
                    break
                last_ccc = k
                if f & SPACE:
                    out[w] = 32
                    w += 0 if prev_space else 1
                    prev_space = True
                    continue
                prev_space = False
                if cp == DOTTED_I:
                    out[w] = 105  # "i", then U+0307 below
                    w += 1
                c = lower[cp]
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
            elif prev_space and w > start:  # the trailing space
                w -= 1
            spans[d, 0] = start
            spans[d, 1] = w

    return kernel


@lru_cache(maxsize=1)
def _ascii_out() -> np.ndarray:
    """What the kernel writes for each ASCII byte: its lowercase, or a space for whitespace."""
    lower, flags, _ = tables()
    return np.where(flags[:128] & SPACE, 32, lower[:128]).astype(np.uint8)


def normalize_batch(kernel: Any, texts: Sequence[str], nfc_done: bool = False
                    ) -> tuple[memoryview, np.ndarray, np.ndarray]:
    """(normalized bytes of the batch, (n, 2) spans into them, n bools: "use normalize_exact").
    `nfc_done`: the texts are NFC already, so only the lowercase and whitespace are left to do.
    The bytes are a view of a buffer that the next call reuses (fresh pages cost as much as the
    kernel itself): hash or copy them before normalizing the next batch."""
    encoded = [t.encode("utf-8") for t in texts]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    data = np.frombuffer(b"".join(encoded), dtype=np.uint8)
    # NOTE: a lowercase can take one byte more than its capital (U+023A, 2 bytes -> U+2C65, 3 bytes)
    out = _scratch(len(data) * 3 // 2 + 8)
    spans = np.zeros((len(texts), 2), dtype=np.int64)
    slow = np.zeros(len(texts), dtype=np.bool_)
    kernel(data, offsets, *tables(), _ascii_out(), np.full(len(texts), nfc_done, dtype=np.bool_), out, spans, slow)
    return memoryview(out)[: int(spans[-1, 1]) if len(texts) else 0], spans, slow


_SCRATCH = threading.local()


def _scratch(n: int) -> np.ndarray:
    """This thread's reused output buffer, of at least n bytes."""
    buf = getattr(_SCRATCH, "buf", None)
    if buf is None or len(buf) < n:
        buf = _SCRATCH.buf = np.empty(max(n, 1 << 20), dtype=np.uint8)
    return buf
