"""Streaming steps write parts; kept ids do not depend on how the input is cut into parts (1, 2 or 8
files), on the number of workers, or on the part size; kept records are the input lines byte for
byte; keep-newest and the bookend rule do what they say."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from dedup_corpus import planted

from runners.curation import parts
from runners.curation.exact import run_exact
from runners.curation.io import list_shards, read_shard, write_docs
from runners.curation.lsh import run_minhash
from runners.curation.sharded import run_docwise, run_upsample
from runners.curation.substring import substring_dedup


@pytest.fixture(scope="module")
def docs() -> list[dict]:
    texts, _ = planted()
    rng = random.Random(4)
    out = [{"id": f"d{i:05d}", "text": t, "quality": rng.random(), "topic": rng.choice("ab")}
           for i, t in enumerate(texts[:1500])]
    out += [{"id": f"x{i}", "text": out[i * 7]["text"].upper(), "quality": 0.5, "topic": "a"} for i in range(40)]
    rng.shuffle(out)
    return out


def _split(tmp: Path, docs: list[dict], k: int) -> list[Path]:
    size = -(-len(docs) // k)
    paths = []
    for i in range(k):
        paths.append(tmp / f"in-{k}-{i:02d}.jsonl")
        write_docs(paths[-1], docs[i * size : (i + 1) * size])
    return paths


def _kept(out: Path) -> list[str]:
    files = list_shards([out]) if out.is_dir() else [out]
    return [d["id"] for f in files for d in read_shard(f)[0]]


RUNS = {
    "exact": lambda i, o, **kw: run_exact(i, o, **kw),
    "minhash": lambda i, o, **kw: run_minhash(i, o, threshold=0.8, **kw),
    "upsample": lambda i, o, **kw: run_upsample(i, o, **kw),
    "fim": lambda i, o, **kw: run_docwise("fim", i, o, {"rate": 0.5, "spm_rate": 0.5, "seed": 1}, **kw),
}


@pytest.mark.parametrize("step", sorted(RUNS))
def test_same_kept_ids_for_any_parts_and_workers(step, docs, tmp_path, monkeypatch):
    monkeypatch.setattr(parts, "PART_BYTES", 200_000)  # several parts per shard
    results = {}
    for k, workers in ((1, 1), (2, 2), (8, 1), (8, 2)):
        out = tmp_path / f"{step}-{k}-{workers}"
        stats = RUNS[step](_split(tmp_path, docs, k), out, workers=workers)
        results[(k, workers)] = _kept(out)
        assert stats["parts"] >= k and stats["parts"] == len(list(out.iterdir()))
    first = results[(1, 1)]
    assert 0 < len(first) <= len(docs)
    assert all(r == first for r in results.values())


def test_kept_records_are_the_input_lines(docs, tmp_path):
    src = tmp_path / "in.jsonl"
    lines = [json.dumps(d, indent=None, separators=(" ,", " : ")) + "\n" for d in docs]  # odd spacing
    src.write_text("".join(lines))
    run_exact([src], tmp_path / "out.jsonl")
    kept = set(_kept(tmp_path / "out.jsonl"))
    assert (tmp_path / "out.jsonl").read_text() == "".join(
        line for line, d in zip(lines, docs, strict=True) if d["id"] in kept)


def test_keep_newest(tmp_path):
    docs = [{"id": "a", "text": "Same page", "date": "2019-05-01"},
            {"id": "b", "text": "same  PAGE", "date": "2024-01-31"},
            {"id": "c", "text": "same page", "date": "2021-12-24"},
            {"id": "d", "text": "same page"},
            {"id": "e", "text": "other page", "crawl": "2020"}]
    write_docs(tmp_path / "in.jsonl", docs)
    run_exact([tmp_path / "in.jsonl"], tmp_path / "first.jsonl")
    assert _kept(tmp_path / "first.jsonl") == ["a", "e"]
    stats = run_exact([tmp_path / "in.jsonl"], tmp_path / "new.jsonl", keep="newest")
    assert _kept(tmp_path / "new.jsonl") == ["b", "e"] and stats["docs_removed"] == 3
    removed = [json.loads(x) for x in (tmp_path / "new.removed.jsonl").read_text().splitlines()]
    assert {r["id"]: r["detail"] for r in removed} == {"a": "b", "c": "b", "d": "b"}


def test_bookend_drops_mostly_repeated_documents():
    block = "".join(f"line {i} of a license that many packages copy word for word\n" for i in range(20))
    docs = [{"id": "orig", "text": block},
            {"id": "mostly", "text": block + "with a short note of its own."},
            {"id": "half", "text": "".join(f"Paragraph {i} explains part {i * 7} of this package.\n"
                                           for i in range(30)) + block}]
    trimmed = substring_dedup(docs, min_bytes=200, min_chars=10)
    assert [d["id"] for d in trimmed.kept] == ["orig", "mostly", "half"]  # trimmed, not dropped
    book = substring_dedup(docs, min_bytes=200, min_chars=10, bookend=0.8)
    assert [d["id"] for d in book.kept] == ["orig", "half"]
    assert [(r.id, r.reason) for r in book.removed] == [("mostly", "substring_duplicate_covered")]
