"""Shard readers and writers: every format round-trips, bad records become rejects with file and
line, writers are atomic."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from runners.curation.io import list_shards, read_shard, sibling, write_docs, write_jsonl

DOCS = [
    {"id": "a", "text": "Hello world", "url": "http://x", "score": 0.5},
    {"id": "b", "text": "日本語テキスト 🙂 naïve café", "url": "http://y", "score": 1.5},
]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst", ".parquet"])
def test_round_trip_keeps_every_field(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"shard{suffix}"
    assert write_docs(path, DOCS) == 2
    docs, rejects = read_shard(path)
    assert docs == DOCS and rejects == []
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_configurable_text_field(tmp_path: Path) -> None:
    path = tmp_path / "code.jsonl"
    write_jsonl(path, [{"id": "x", "content": "print(1)"}, {"id": "y", "text": "no content"}])
    docs, rejects = read_shard(path, text_field="content")
    assert [d["id"] for d in docs] == ["x"]
    assert [(r.line, r.reason, r.id) for r in rejects] == [(2, "missing_text", "y")]


def test_bad_records_become_rejects_with_file_and_line(tmp_path: Path) -> None:
    lines = [
        b'{"id": "ok1", "text": "fine"}',
        b"{not json",
        b'{"id": "bad-utf8", "text": "\xff\xfe"}',
        b'["a", "list"]',
        b'{"text": "no id"}',
        b'{"id": 7, "text": "numeric id"}',
        b'{"id": "no-text"}',
        b'{"id": "int-text", "text": 42}',
        b'{"id": "ok1", "text": "same id again"}',
        b'{"id": "surrogate", "text": "\\ud800"}',
        b"",
        b'{"id": "ok2", "text": "also fine"}',
    ]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    docs, rejects = read_shard(path)
    assert [d["id"] for d in docs] == ["ok1", "ok2"]
    assert [(r.file, r.line, r.reason) for r in rejects] == [
        (str(path), 2, "invalid_json"),
        (str(path), 3, "invalid_utf8"),
        (str(path), 4, "not_an_object"),
        (str(path), 5, "missing_id"),
        (str(path), 6, "id_not_string"),
        (str(path), 7, "missing_text"),
        (str(path), 8, "text_not_string"),
        (str(path), 9, "duplicate_id"),
        (str(path), 10, "invalid_unicode"),
    ]
    assert json.loads(json.dumps(rejects[0].to_json()))["line"] == 2


def test_parquet_rejects_name_the_row(tmp_path: Path) -> None:
    path = tmp_path / "rows.parquet"
    write_docs(path, [{"id": "a", "text": "x"}, {"id": "b", "text": None}, {"id": "a", "text": "y"}])
    docs, rejects = read_shard(path)
    assert [d["id"] for d in docs] == ["a"]
    assert [(r.line, r.reason) for r in rejects] == [(2, "missing_text"), (3, "duplicate_id")]


def test_hf_dataset_saved_to_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    rows = [*DOCS, {"id": "c", "text": None, "url": "u", "score": 2.0}]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds"))
    assert list_shards([tmp_path / "ds"]) == [str(tmp_path / "ds")]
    docs, rejects = read_shard(tmp_path / "ds")
    assert docs == DOCS
    assert [(r.line, r.reason, r.id) for r in rejects] == [(3, "missing_text", "c")]


def test_writer_is_atomic(tmp_path: Path) -> None:
    def failing():
        yield {"id": "a", "text": "x"}
        raise RuntimeError("killed mid-write")

    target = tmp_path / "out.jsonl.zst"
    with pytest.raises(RuntimeError):
        write_docs(target, failing())
    assert list(tmp_path.iterdir()) == []
    write_docs(target, DOCS)
    with pytest.raises(RuntimeError):
        write_docs(target, failing())
    assert read_shard(target)[0] == DOCS  # the complete older file is untouched


def test_list_shards_and_siblings(tmp_path: Path) -> None:
    for name in ["b.jsonl", "a.jsonl.zst", "notes.txt"]:
        (tmp_path / name).write_text("")
    assert list_shards([tmp_path]) == [str(tmp_path / "a.jsonl.zst"), str(tmp_path / "b.jsonl")]
    with pytest.raises(ValueError, match="unknown document format"):
        list_shards([tmp_path / "notes.txt"])
    assert sibling("out/x.jsonl.zst", "removed") == "out/x.removed.jsonl"
    assert sibling("x.parquet", "rejects") == "x.rejects.jsonl"


@pytest.mark.parametrize("suffix", [".jsonl.gz", ".jsonl.zst"])
def test_truncated_compressed_file_keeps_what_was_read(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"cut{suffix}"
    write_docs(path, [{"id": f"d{i}", "text": f"document number {i} " * 20} for i in range(2000)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    docs, rejects = read_shard(path)
    assert 0 < len(docs) < 2000
    assert [d["id"] for d in docs] == [f"d{i}" for i in range(len(docs))]
    assert [(r.reason, r.line) for r in rejects] == [("unreadable_rest_of_file", len(docs) + 1)]


def test_multi_frame_zstd_is_read_whole(tmp_path: Path) -> None:
    zstandard = pytest.importorskip("zstandard")
    frames = [b'{"id": "a", "text": "x"}\n{"id": "b",', b' "text": "y"}\n{"id": "c", "text": "z"}']
    path = tmp_path / "frames.jsonl.zst"
    path.write_bytes(b"".join(zstandard.ZstdCompressor().compress(f) for f in frames))
    docs, rejects = read_shard(path)
    assert [d["id"] for d in docs] == ["a", "b", "c"] and rejects == []
