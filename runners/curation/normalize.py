"""Text normalization shared by the dedup steps, so "the same text" means one thing everywhere.

Two strengths, because the steps ask different questions:

- `normalize_exact` (exact dedup): Unicode NFC, lowercase, every run of whitespace (any Unicode
  space, tab, newline) collapsed to one space, leading/trailing space removed. Two documents that
  differ only in case, line wrapping or composed vs decomposed accents are the same document;
  punctuation and digits still count, because they change meaning ("$10" vs "$100").
- `words` (MinHash shingles): datatrove-style. NFKD with combining marks removed (diacritics
  dropped: "café" -> "cafe"), lowercase, every digit -> "0", every character that is not a letter
  or digit treated as a separator. Returns UTF-8 `bytes` words, ready to hash.

`words` works on bytes: one `bytes.translate` + `split` for ASCII, and the Unicode steps only on
runs of non-ASCII characters (so lowercasing is per run: a Greek final sigma right after an ASCII
letter lowercases as a plain sigma). Both paths give the same words for ASCII text; a test pins it.
"""

from __future__ import annotations

import re
import unicodedata

_DIGIT = re.compile(r"\d")
_NON_WORD_RUNS = re.compile(r"[\W_]+")


def normalize_exact(text: str) -> str:
    """NFC, lowercase, whitespace runs -> one space, stripped (see the module docstring)."""
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return " ".join(text.lower().split())


def _byte_table(non_ascii: int | None) -> bytes:
    """ASCII digits -> "0", letters -> lowercase, other ASCII -> space; bytes >= 0x80 -> space
    (`non_ascii=32`) or unchanged (`None`)."""
    table = bytearray(range(256))
    for c in range(256):
        ch = chr(c)
        if c >= 128:
            table[c] = c if non_ascii is None else non_ascii
        elif ch.isdigit():
            table[c] = ord("0")
        elif ch.isalpha():
            table[c] = ord(ch.lower())
        else:
            table[c] = 32
    return bytes(table)


_ASCII_TABLE = _byte_table(32)
_MIXED_TABLE = _byte_table(None)
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


class _CombiningMarks(dict):
    """A `str.translate` table that deletes combining marks, filled in as characters are met:
    building it for all of Unicode up front took ~0.4 s per process."""

    def __missing__(self, cp: int) -> int | None:
        value = None if unicodedata.combining(chr(cp)) else cp
        self[cp] = value
        return value


_COMBINING_MARKS = _CombiningMarks()


class _Folded(dict):
    """Each run of non-ASCII characters, folded once: the same few runs ("é", "—", box-drawing
    lines) come back in nearly every non-ASCII document. Emptied when it reaches `LIMIT` runs."""

    LIMIT = 1 << 16

    def __missing__(self, run: str) -> str:
        if len(self) >= self.LIMIT:
            self.clear()
        text = unicodedata.normalize("NFKD", run).translate(_COMBINING_MARKS).lower()
        value = self[run] = _NON_WORD_RUNS.sub(" ", _DIGIT.sub("0", text))
        return value


_FOLDED = _Folded()


def _fold(match: re.Match[str]) -> str:
    return _FOLDED[match.group()]


def words(text: str) -> list[bytes]:
    """MinHash words of `text` (see the module docstring), as UTF-8 bytes."""
    return word_bytes(text).split()


def word_bytes(text: str) -> bytes:
    """`words(text)` before the split: the folded UTF-8 bytes, words separated by ASCII whitespace."""
    if text.isascii():
        return text.encode("ascii").translate(_ASCII_TABLE)
    # NOTE: only the runs of non-ASCII characters go through the slow Unicode steps; ASCII text
    # around them takes the byte table, which leaves the (already folded) UTF-8 bytes alone.
    return _NON_ASCII_RUN.sub(_fold, text).encode("utf-8").translate(_MIXED_TABLE)
