"""Read and write curation shards: jsonl (plain, .gz, .zst), parquet, and HF datasets on disk.

A shard is one input file (or one `datasets.save_to_disk` folder). Reading never stops on a bad
record: invalid UTF-8, invalid JSON, a record that is not an object, a missing or non-string text
field, a missing, non-string or repeated id all become a `Reject` (file, 1-based line or row, reason)
and the shard goes on. A truncated .gz/.zst file keeps what could be read and rejects the rest. A
chat record's `messages` list is a valid text field: steps read it through `text_of`, and the record
is written back unchanged. Writers write to a temporary file in the same folder and rename it, so a
killed run never leaves a file that looks complete.

    docs, rejects = read_shard("web-000.jsonl.zst", text_field="content")
    write_docs("kept.parquet", docs)
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import xxhash

from runners.curation.base import Doc

DOC_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet")


@dataclass(frozen=True, slots=True)
class Reject:
    """An input record that could not be read as a document, and where it was."""

    file: str
    line: int
    reason: str
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "file": self.file, "line": self.line}


def doc_suffix(path: str | os.PathLike) -> str:
    """The format suffix of `path` (".jsonl.gz", ...); raises ValueError for an unknown format."""
    name = str(path).lower()
    for suffix in sorted(DOC_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return suffix
    raise ValueError(f"{path}: unknown document format (expected one of {', '.join(DOC_SUFFIXES)})")


def is_hf_dataset(path: str | os.PathLike) -> bool:
    """A folder written by `datasets.Dataset.save_to_disk`, or a hub dataset's pseudo-shard
    (`runners.hf_dataset`)."""
    from runners.hf_dataset import HUB_PREFIX, is_saved_dataset

    return str(path).startswith(HUB_PREFIX) or is_saved_dataset(path)


def list_shards(paths: Iterable[str | os.PathLike]) -> list[str]:
    """Expand input paths into shards, in a stable order.

    Files are taken as given (in the given order); a folder that is a saved HF dataset is one shard;
    any other folder contributes its document files in sorted name order. The order matters: it is
    the "first occurrence" order the dedup steps use to pick the copy they keep.
    """
    shards: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir() and not is_hf_dataset(path):
            found = sorted(str(f) for f in path.rglob("*") if f.is_file() and has_doc_suffix(f))
            if not found:
                raise ValueError(f"{path}: folder holds no document files ({', '.join(DOC_SUFFIXES)})")
            shards.extend(found)
        elif path.exists():
            if not path.is_dir():
                doc_suffix(path)
            shards.append(str(path))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return shards


def has_doc_suffix(path: str | os.PathLike) -> bool:
    """Whether `path` names a document file (one of DOC_SUFFIXES) rather than, say, a folder."""
    try:
        doc_suffix(path)
    except ValueError:
        return False
    return True


# -- reading ---------------------------------------------------------------------------------


def read_shard(
    path: str | os.PathLike, *, text_field: str = "text", id_field: str = "id"
) -> tuple[list[Doc], list[Reject]]:
    """All readable documents of one shard, and the rejects (with file and 1-based line/row)."""
    docs: list[Doc] = []
    rejects: list[Reject] = []
    for _, outcome in iter_shard(path, text_field=text_field, id_field=id_field):
        (rejects if isinstance(outcome, Reject) else docs).append(outcome)
    return docs, rejects


def iter_shard(
    path: str | os.PathLike, *, text_field: str = "text", id_field: str = "id"
) -> Iterator[tuple[int, Doc | Reject]]:
    """(1-based line or row, document or Reject) for every record of a shard, streamed: memory
    holds one record at a time plus a 64-bit hash of each id seen (for the repeated-id check)."""
    seen: set[int] = set()
    name = str(path)
    for line, record in _records(path):
        yield line, _check(record, name, line, text_field, id_field, seen)


def raw_lines(path: str | os.PathLike) -> Iterator[tuple[int, bytes]] | None:
    """(1-based line, bytes) of every non-blank line of a jsonl shard, without parsing (None for
    parquet and HF datasets): removal-only steps copy kept records through unchanged."""
    if Path(path).is_dir() or doc_suffix(path) == ".parquet":
        return None
    return _raw_lines(path, doc_suffix(path))


def _raw_lines(path: str | os.PathLike, suffix: str) -> Iterator[tuple[int, bytes]]:
    with _open_read(path, suffix) as f:
        for line, raw in enumerate(f, start=1):
            if raw.strip():
                yield line, raw if raw.endswith(b"\n") else raw + b"\n"


def loads(raw: bytes) -> Any:
    """orjson (fast) for a JSON line, the standard library where orjson is stricter (integers
    beyond 64 bits, NaN); ValueError if neither reads it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(raw.decode("utf-8"))


def dumps(record: Any) -> bytes:
    """One JSON line (UTF-8, newline included); the standard library for what orjson refuses."""
    try:
        return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except TypeError:
        return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def iter_records(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    """Every record of a shard as stored, with its 1-based line (or row): a dict, or for a record
    that cannot be read at all, the reason as a string (`invalid_json`, `invalid_utf8`, ...). For
    readers with their own record schema (chats), which check fields themselves."""
    for line, record in _records(path):
        yield line, (record.reason if isinstance(record, _Bad) else record)


class _Bad:
    """A record that failed before it became a dict (bad bytes or bad JSON)."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _records(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    if is_hf_dataset(path) or Path(path).is_dir():
        yield from _hf_records(path)
        return
    suffix = doc_suffix(path)
    if suffix == ".parquet":
        yield from _parquet_records(path)
        return
    with _open_read(path, suffix) as f:
        lines = enumerate(f, start=1)
        line = 0
        while True:
            try:
                line, raw = next(lines)
            except StopIteration:
                return
            except _stream_errors():
                # NOTE: a truncated or corrupt compressed file (an interrupted download): what was
                # read is kept, the rest is one reject at the first unreadable line
                yield line + 1, _Bad("unreadable_rest_of_file")
                return
            if not raw.strip():
                continue  # NOTE: a blank line (e.g. the trailing newline of a file) is not a record
            try:
                record = loads(raw)
            except UnicodeDecodeError:
                record = _Bad("invalid_utf8")
            except ValueError:
                record = _Bad("invalid_json")
            yield line, record


def _zstd_lines(raw: io.BufferedReader) -> Iterator[bytes]:
    """Lines of a zstd file of one or more frames. Unlike zstandard's stream reader, which ends
    quietly at a cut, a frame that stops before its end raises EOFError."""
    import zstandard

    dctx = zstandard.ZstdDecompressor()
    frame, in_frame, pending = dctx.decompressobj(), False, b""
    while chunk := raw.read(1 << 20):
        while chunk:
            in_frame = True
            pending += frame.decompress(chunk)
            chunk = b""
            if frame.eof:
                chunk, frame, in_frame = frame.unused_data, dctx.decompressobj(), False
        *lines, pending = pending.split(b"\n")
        for line in lines:
            yield line + b"\n"
    if in_frame:
        raise EOFError("zstd frame ended before its end")
    if pending:
        yield pending


def _stream_errors() -> tuple[type[BaseException], ...]:
    import zstandard

    return (OSError, EOFError, zlib.error, zstandard.ZstdError)


@contextlib.contextmanager
def _open_read(path: str | os.PathLike, suffix: str) -> Iterator[Iterable[bytes]]:
    if suffix == ".jsonl.gz":
        with gzip.open(path, "rb") as f:
            yield f
    elif suffix == ".jsonl.zst":
        with open(path, "rb") as raw:
            yield _zstd_lines(raw)
    else:
        with open(path, "rb") as f:
            yield f


def _parquet_records(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    row = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=4096):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def _hf_records(path: str | os.PathLike) -> Iterator[tuple[int, Any]]:
    from runners.hf_dataset import open_dataset  # NOTE: imports datasets: heavy, only for this input kind

    ds = open_dataset(path)
    row = 0
    for batch in ds.iter(batch_size=4096):
        columns = list(batch)
        for values in zip(*(batch[c] for c in columns), strict=True):
            row += 1
            yield row, dict(zip(columns, values, strict=True))


def chat_text(messages: list[Any]) -> str | None:
    """A list of {"role", "content"} messages as one text (`<|role|>` lines), else None."""
    if all(isinstance(m, dict) and isinstance(m.get("content"), str) for m in messages):
        return "\n".join(f"<|{m.get('role', 'user')}|>\n{m['content']}" for m in messages)
    return None


def text_of(doc: Doc, text_field: str) -> str:
    """The text a step reads: the field itself, or a chat record's messages joined (`chat_text`).
    The record keeps its messages: curation outputs chat records as they came in."""
    text = doc[text_field]
    return text if isinstance(text, str) else chat_text(text) or ""


def _check(record: Any, file: str, line: int, text_field: str, id_field: str, seen: set[int]) -> Doc | Reject:
    if isinstance(record, _Bad):
        return Reject(file, line, record.reason)
    if not isinstance(record, dict):
        return Reject(file, line, "not_an_object")
    doc_id = record.get(id_field)
    if doc_id is None:
        return Reject(file, line, "missing_id")
    if not isinstance(doc_id, str):
        return Reject(file, line, "id_not_string", str(doc_id))
    if text_field not in record or record[text_field] is None:
        return Reject(file, line, "missing_text", doc_id)
    text = record[text_field]
    if isinstance(text, list):  # a chat record's messages: read as their text (`text_of`), kept as they are
        joined = chat_text(text)
        if joined is None:
            return Reject(file, line, "text_not_string", doc_id)
        text = joined
    if isinstance(text, bytes):
        try:
            text = record[text_field] = text.decode("utf-8")
        except UnicodeDecodeError:
            return Reject(file, line, "invalid_utf8", doc_id)
    if not isinstance(text, str):
        return Reject(file, line, "text_not_string", doc_id)
    try:
        if not text.isascii():  # NOTE: isascii is a flag lookup; encoding an ASCII text cannot fail
            text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. a JSON "\ud800" escape
        return Reject(file, line, "invalid_unicode", doc_id)
    key = xxhash.xxh3_64_intdigest(doc_id.encode("utf-8", "surrogatepass"))
    if key in seen:
        return Reject(file, line, "duplicate_id", doc_id)
    seen.add(key)
    return record


# -- writing ---------------------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[str]:
    """Yield a temporary path next to `path`; rename it onto `path` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # NOTE: mkstemp makes 0600 files; outputs are ordinary shared files
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_docs(path: str | os.PathLike, docs: Iterable[Doc]) -> int:
    """Write documents in the format `path`'s suffix names, atomically; returns the count."""
    suffix = doc_suffix(path)
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(docs)
        with atomic_path(path) as tmp:
            pq.write_table(pa.Table.from_pylist(rows), tmp)
        return len(rows)
    return write_jsonl(path, docs, suffix=suffix)


def write_jsonl(path: str | os.PathLike, records: Iterable[dict[str, Any]], *, suffix: str = ".jsonl") -> int:
    """Write JSON lines (optionally .gz/.zst compressed), atomically; returns the count."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "wb") as raw, _compressor(raw, suffix) as f:
        for record in records:
            f.write(dumps(record))
            n += 1
    return n


@contextlib.contextmanager
def _compressor(raw: io.BufferedWriter, suffix: str) -> Iterator[Any]:
    if suffix == ".jsonl.gz":
        # NOTE: mtime=0 and no file name keep the bytes identical from run to run
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as f:
            yield f
    elif suffix == ".jsonl.zst":
        import zstandard

        with zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False) as f:
            yield f
    else:
        yield raw


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict[str, Any]]:
    """Records of a jsonl file this package wrote (trusted: no reject handling)."""
    with _open_read(path, doc_suffix(path)) as f:
        for raw in f:
            if raw.strip():
                yield loads(raw)


def sibling(output: str | os.PathLike, kind: str) -> str:
    """`out.jsonl.zst` -> `out.<kind>.jsonl`: where removed documents and rejects of a step go."""
    out = str(output)
    try:
        stem = out[: -len(doc_suffix(out))]
    except ValueError:
        stem = out
    return f"{stem}.{kind}.jsonl"
