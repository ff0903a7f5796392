"""Text normalization and byte-deterministic writers.

Why ASCII: the tiny flow uses a character vocabulary of 128 symbols (digits one token each), so
every text in the corpus is folded to printable ASCII (typographic quotes and dashes mapped,
accents stripped by NFKD, anything else dropped).

Why these writers: running the generator twice must give byte-identical files, so gzip gets
mtime=0 and no file name, zstd a fixed level without threads, JSON a fixed key order and
separators, parquet a fixed schema, compression and row-group size.
"""

from __future__ import annotations

import gzip
import json
import re
import unicodedata
from pathlib import Path

_TRANSLATE = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "--", "\u2015": "--",
    "\u2212": "-", "\u2026": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\u2002": " ",
    "\u2003": " ", "\u2022": "*", "\u00b7": "*", "\u00a9": "(c)", "\u00ae": "(R)",
    "\u2122": "(TM)", "\u00d7": "x", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE",
    "\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u00f0": "d", "\u00fe": "th",
})
_CTRL = re.compile(r"[^\x20-\x7e\n]")
_CTRL_TAB = re.compile(r"[^\x20-\x7e\n\t]")
_TRAILING = re.compile(r"[ ]+\n")
_BLANKS = re.compile(r"\n{3,}")


def to_ascii(text: str, keep_tabs: bool = False) -> str:
    """Fold to printable ASCII plus newlines; tabs become 4 spaces unless keep_tabs."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not keep_tabs:
        text = text.replace("\t", "    ")
    if not text.isascii():  # NOTE: fast path: most files are ASCII already
        text = text.translate(_TRANSLATE)
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return (_CTRL_TAB if keep_tabs else _CTRL).sub("", text)


def clean_prose(text: str) -> str:
    """ASCII, no trailing spaces, at most one blank line in a row, stripped."""
    text = _TRAILING.sub("\n", to_ascii(text) + "\n")
    return _BLANKS.sub("\n\n", text).strip()


def n_words(text: str) -> int:
    return len(text.split())


def shingles(text: str, n: int = 5) -> set[tuple[str, ...]]:
    """Word n-grams over lowercased whitespace tokens (the near-duplicate definition we plant for)."""
    words = text.lower().split()
    return {tuple(words[i:i + n]) for i in range(max(0, len(words) - n + 1))}


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = shingles(a, n), shingles(b, n)
    return len(sa & sb) / max(1, len(sa | sb))


def first_sentence(text: str) -> str:
    m = re.match(r"(.+?[.!?])(\s|$)", " ".join(text.split()))
    return m.group(1) if m else " ".join(text.split())


# ---------------------------------------------------------------- deterministic writers

ZSTD_LEVEL = 12
GZIP_LEVEL = 9


def jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=True, separators=(", ", ": ")) + "\n"
                   for r in records).encode("ascii")


def write_jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = jsonl_bytes(records)
    name = path.name
    if name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=True).compress(data)
    elif name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)
    path.write_bytes(data)


def write_parquet(path: Path, records: list[dict], columns: list[str]) -> None:
    """All columns are strings; one row group; zstd; no pandas metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([(c, pa.string()) for c in columns])
    table = pa.table({c: [r[c] for r in records] for c in columns}, schema=schema)
    pq.write_table(table, path, compression="zstd", compression_level=ZSTD_LEVEL,
                   row_group_size=max(1, len(records)), use_dictionary=False)


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=1, sort_keys=True, ensure_ascii=True) + "\n",
                    encoding="ascii")


def read_records(path: Path) -> list[dict]:
    """Reader for every format this corpus ships (used by the stats pass and the tests)."""
    name = path.name
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    data = path.read_bytes()
    if name.endswith(".zst"):
        import zstandard

        data = zstandard.ZstdDecompressor().decompress(data)
    elif name.endswith(".gz"):
        data = gzip.decompress(data)
    return [json.loads(line) for line in data.decode("ascii").splitlines() if line]
