"""Substring dedup against brute force: removed spans are repeats, every repeat is caught, one copy
stays, and the output is always valid UTF-8 (multibyte text included)."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from dedup_corpus import real_documents

from runners.curation.io import iter_jsonl, read_shard, write_docs
from runners.curation.substring import concat, cut_ranges, repeat_mask, run_substring, substring_dedup


def brute_force_mask(texts: list[bytes], n: int) -> np.ndarray:
    """The rule, spelled out: an n-byte window inside one document is a repeat when the same bytes
    start at least n bytes earlier (in concatenation order); repeat windows' bytes are removed."""
    masks = [np.zeros(len(t), dtype=bool) for t in texts]
    first: dict[bytes, int] = {}
    base = 0
    for d, t in enumerate(texts):
        for s in range(len(t) - n + 1):
            w = t[s : s + n]
            if w not in first:
                first[w] = base + s
            elif first[w] <= base + s - n:
                masks[d][s : s + n] = True
        base += len(t) + 1
    return np.concatenate([np.append(m, False) for m in masks])


def _random_texts(rng: random.Random) -> tuple[list[bytes], int]:
    alphabet = rng.choice(["ab", "abc", "abcd", "é a", "日本x", "🙂é ", "ab\n"])
    n = rng.randint(1, 9)
    texts = [
        "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(rng.randint(1, 5))
    ]
    return [t.encode() for t in texts], n


def test_agrees_with_brute_force_on_small_inputs() -> None:
    rng = random.Random(0)
    for _ in range(400):
        texts, n = _random_texts(rng)
        data, _ = concat(texts)
        assert (repeat_mask(data, n) == brute_force_mask(texts, n)).all(), (texts, n)


def test_properties_on_small_inputs() -> None:
    rng = random.Random(1)
    for _ in range(300):
        texts, n = _random_texts(rng)
        data, _ = concat(texts)
        blob = data.tobytes()
        mask = repeat_mask(data, n)
        counts: dict[bytes, list[int]] = {}
        for s in range(len(blob) - n + 1):
            if 0xFF not in blob[s : s + n]:
                counts.setdefault(blob[s : s + n], []).append(s)
        # every removed byte lies in a window that occurs twice without overlap
        for p in np.flatnonzero(mask):
            assert any(
                any(q2 - q1 >= n for q1 in occ for q2 in occ)
                for s in range(max(0, p - n + 1), p + 1)
                if (occ := counts.get(blob[s : s + n]))
            )
        # every later non-overlapping occurrence of a window is removed; its first occurrence is
        # never removed by itself (only where it overlaps another repeat)
        for occ in counts.values():
            for s in occ:
                if s - occ[0] >= n:
                    assert mask[s : s + n].all()
        # cutting never breaks UTF-8
        for t, ranges in zip(texts, cut_ranges(texts, n), strict=True):
            _cut(t, ranges).decode("utf-8")


def _cut(raw: bytes, ranges: list[tuple[int, int]]) -> bytes:
    out, pos = [], 0
    for a, b in ranges:
        out.append(raw[pos:a])
        pos = b
    return b"".join(out + [raw[pos:]])


def test_planted_paragraphs_keep_exactly_one_copy() -> None:
    real = list(real_documents()[:400])
    rng = random.Random(2)
    footer = "\n".join(t for t in real[:30] if len(t) > 100)[:1500]  # > 500 bytes of real text
    quote = _multibyte(rng, 400)  # ~1.2 KB of 2-, 3- and 4-byte characters, not periodic
    docs = []
    for i, t in enumerate(real[30:230]):
        extra = [footer] if i % 4 == 0 else []
        if i % 10 == 3:
            extra.append(quote)
        parts = [t, *extra] if rng.random() < 0.5 else [*extra, t]
        docs.append({"id": f"d{i}", "text": "\n".join(parts)})
    docs.append({"id": "all-footer", "text": footer})
    result = substring_dedup(docs, min_bytes=500, min_chars=50)
    kept_text = "\n".join(d["text"] for d in result.kept)
    assert kept_text.count(footer) == 1 and kept_text.count(quote) == 1
    assert docs[0]["text"] in kept_text  # the first occurrence is the one kept, whole document
    # "all-footer" is nothing but a repeat; a few real paragraphs repeat earlier ones whole
    assert "all-footer" in {r.id for r in result.removed}
    assert {r.reason for r in result.removed} == {"substring_duplicate_empty"}
    assert result.stats["docs_modified"] > 40
    for d in result.kept:
        d["text"].encode("utf-8")


def _multibyte(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("éüß日本語のテキ🙂👍🏽ab ") for _ in range(n))


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_cuts_inside_multibyte_characters_are_snapped(shift: int) -> None:
    span = _multibyte(random.Random(shift), 200)  # cuts at every byte offset of the characters
    docs = [
        {"id": "a", "text": "x" * shift + span + " tail of a first document that stays here"},
        {"id": "b", "text": "🙂" * shift + span[1:] + " and enough other text to keep this one"},
    ]
    result = substring_dedup(docs, min_bytes=100, min_chars=10)
    assert result.kept[0]["text"] == docs[0]["text"]
    rest = result.kept[1]["text"]
    assert rest.endswith("and enough other text to keep this one")
    assert len(rest.encode()) < 60


def test_run_substring_catches_repeats_across_shards(tmp_path: Path) -> None:
    real = list(real_documents()[:300])
    footer = "\n".join(real[:12])[:800]
    paths = []
    for k in range(3):
        docs = [{"id": f"s{k}-{i}", "text": f"{real[100 + 50 * k + i]}\n{footer}", "k": k} for i in range(50)]
        paths.append(tmp_path / f"part{k}.jsonl")
        write_docs(paths[-1], docs)
    stats = run_substring(paths, tmp_path / "out.parquet", min_bytes=500, workers=1)
    kept, _ = read_shard(tmp_path / "out.parquet")
    assert "\n".join(d["text"] for d in kept).count(footer) == 1
    assert kept[0]["text"].endswith(footer) and kept[0]["k"] == 0
    # two of the real paragraphs repeat earlier ones whole, so those documents end up (near) empty
    removed = list(iter_jsonl(tmp_path / "out.removed.jsonl"))
    assert {r["reason"] for r in removed} == {"substring_duplicate_empty"}
    assert stats["docs_modified"] + len(removed) == 149
    assert stats["bytes_removed"] >= 149 * (len(footer.encode()) - 3)
