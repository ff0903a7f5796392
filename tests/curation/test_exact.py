"""Exact dedup: the result is a Python set of normalized texts; the kept copy is the first."""

from __future__ import annotations

import json
import random
import unicodedata
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


def _tricky_texts(n: int, seed: int = 0) -> list[str]:
    """Random texts over the characters where a normalizer can go wrong: every kind of space,
    capitals whose lowercase is longer in UTF-8 or not one character, combining marks in and out of
    canonical order, composable pairs, Hangul jamo, final sigma, astral letters and emoji."""
    rng = random.Random(seed)
    pool = list("aZ09 .\t\n\x0b\x0c\r\x1c\x1f\x85\xa0") + [
        "\u1680", "\u2000", "\u200a", "\u200b", "\u2028", "\u202f", "\u205f", "\u3000", "\ufeff",
        "É", "é", "e\u0301", "\u0301", "\u0308", "\u0327", "\u0316", "\u05b0", "\u0d4d", "\u0e48",
        "İ", "ı", "Σ", "σ", "ς", "Ⱥ", "ⱥ", "Ω", "\u2126", "K", "\u212a", "ǅ", "Ǆ", "ﬁ", "ß", "ẞ",
        "\u1100", "\u1161", "\u11a8", "한", "\U00010400", "\U0001d45b", "😀", "\U0001f3fb", "\U00020000",
    ]
    return ["".join(rng.choice(pool) for _ in range(rng.randrange(0, 12))) for _ in range(n)]


def test_fast_digests_equal_the_definition() -> None:
    texts = list(real_documents()[:500]) + ODD + ["a\u2003\u2003b", "A B", "a b", "tab\tsep", "ʼn ΣΑΣ"]
    assert (text_digests(texts) == text_digests(texts, fast=False)).all()
    assert normalize_exact("e\u0301cole  École\n") == "école école"


def test_the_compiled_kernel_writes_the_definitions_bytes() -> None:
    from runners.curation.exact_kernel import compiled, normalize_batch

    kernel = compiled()
    assert kernel is not None, "numba is part of the curate extra"
    texts = _tricky_texts(20_000) + list(real_documents()[:300]) + ODD
    data, spans, slow = normalize_batch(kernel, texts)
    for text, (a, b), python in zip(texts, spans.tolist(), slow.tolist(), strict=True):
        if not python:
            assert data[a:b] == normalize_exact(text).encode(), repr(text)
    assert slow[:20_000].sum() > 1000 and (~slow[:20_000]).sum() > 5000  # both paths are exercised
    assert slow[20_000:].mean() < 0.1  # and the kernel decides nearly every real document
    # texts already NFC: the kernel decides all but capital sigma and characters past its tables
    nfc = [unicodedata.normalize("NFC", t) for t in texts]
    data, spans, slow = normalize_batch(kernel, nfc, nfc_done=True)
    for text, (a, b), python in zip(nfc, spans.tolist(), slow.tolist(), strict=True):
        if python:
            assert "\u03a3" in text or max(map(ord, text)) >= 0x20000, repr(text)
        else:
            assert data[a:b] == normalize_exact(text).encode(), repr(text)
    assert slow[:20_000].mean() < 0.5
    # a batch big enough for the kernel gives the definition's digests
    big = texts * 20
    assert sum(map(len, big)) >= 1 << 20
    assert (text_digests(big) == text_digests(big, fast=False)).all()


def test_nfc_line_by_line_is_nfc() -> None:
    from runners.curation.exact import nfc_by_line

    texts = _tricky_texts(3000, seed=4)
    for k in range(0, len(texts), 7):
        joined = "\n".join(texts[k : k + 7])
        assert nfc_by_line(joined) == unicodedata.normalize("NFC", joined), repr(joined)


def test_dotted_capital_i_is_the_only_character_that_lowercases_to_two() -> None:
    """The kernel writes U+0130's lowercase as two characters and every other one as one."""
    from runners.curation.exact_kernel import LIMIT

    two = [cp for cp in range(LIMIT) if not 0xD800 <= cp < 0xE000 and len(chr(cp).lower()) > 1]
    assert two == [0x0130]


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
