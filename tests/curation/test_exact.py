"""Exact dedup: the result is a Python set of normalized texts; the kept copy is the first."""

from __future__ import annotations

import json
import random
from pathlib import Path

from dedup_corpus import real_documents

from runners.curation.exact import exact_dedup, run_exact, text_digests
from runners.curation.io import iter_jsonl, read_shard, write_docs
from runners.curation.normalize import normalize_exact

ODD = [
    "  A\u00a0b\u3000C\x1c\x1dd \t\n",
    "",
    " \n\t",
    "Ǆ İstanbul e\u0301cole",  # decomposed é: NFC makes it equal to the composed form below
    "ǆ i̇stanbul école",
    "x\u2028y",
    "\u0085",
    "ÉCOLE école",
]


def _variants(texts: list[str], seed: int = 0) -> list[str]:
    """Texts plus copies that differ only in case and whitespace, shuffled deterministically."""
    rng = random.Random(seed)
    out = list(texts)
    for t in rng.sample(texts, len(texts) // 3):
        out.append(t.upper() if rng.random() < 0.5 else "\n  ".join(t.split(" ")) + " \t")
    out.extend(rng.sample(texts, len(texts) // 5))
    rng.shuffle(out)
    return out


def test_equals_a_python_set_of_normalized_texts() -> None:
    texts = _variants(list(real_documents()[:3000]) + ODD)
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(texts)]
    result = exact_dedup(docs)
    kept = [d["text"] for d in result.kept]
    assert {normalize_exact(t) for t in kept} == {normalize_exact(t) for t in texts}
    assert len(kept) == len({normalize_exact(t) for t in texts})
    assert result.stats["exact_duplicate"] == len(texts) - len(kept)
    # the kept copy is the first occurrence, and each removed document names it
    first: dict[str, str] = {}
    for d in docs:
        first.setdefault(normalize_exact(d["text"]), d["id"])
    assert {d["id"] for d in result.kept} == set(first.values())
    by_id = {d["id"]: d for d in docs}
    for r in result.removed:
        assert r.reason == "exact_duplicate"
        assert r.detail == first[normalize_exact(by_id[r.id]["text"])] != r.id


def test_fast_digests_equal_the_definition() -> None:
    texts = list(real_documents()[:500]) + ODD + ["a\u2003\u2003b", "A B", "a b", "tab\tsep", "ʼn ΣΑΣ"]
    assert (text_digests(texts) == text_digests(texts, fast=False)).all()
    assert normalize_exact("e\u0301cole  École\n") == "école école"


def test_run_exact_across_shards_matches_in_memory(tmp_path: Path) -> None:
    texts = _variants(list(real_documents()[:900]))
    docs = [{"id": f"d{i}", "text": t, "src": i % 3} for i, t in enumerate(texts)]
    paths = []
    third = len(docs) // 3 + 1
    for k, suffix in enumerate([".jsonl", ".jsonl.gz", ".parquet"]):
        paths.append(tmp_path / f"in{k}{suffix}")
        write_docs(paths[-1], docs[k * third : (k + 1) * third])
    extra = {"id": "x", "text": texts[0].upper()}
    (tmp_path / "bad.jsonl").write_text(json.dumps(extra) + "\n{oops\n")
    paths.append(tmp_path / "bad.jsonl")
    stats = run_exact(paths, tmp_path / "out.jsonl.zst", workers=1)
    expected = exact_dedup(docs + [extra])
    kept, _ = read_shard(tmp_path / "out.jsonl.zst")
    assert kept == expected.kept
    removed = list(iter_jsonl(tmp_path / "out.removed.jsonl"))
    assert removed == [r.to_json() for r in expected.removed]
    assert stats["docs_removed"] == len(removed) and stats["docs_kept"] == len(kept)
    assert stats["rejects_by_reason"] == {"invalid_json": 1}
    rejects = list(iter_jsonl(tmp_path / "out.rejects.jsonl"))
    assert rejects == [{"id": None, "reason": "invalid_json", "file": str(paths[-1]), "line": 2}]
    assert not (tmp_path / "out.jsonl.zst.work").exists()
