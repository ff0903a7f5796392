"""FIM: the pieces rebuild the original (multibyte included), rates within binomial bounds, seeding,
short docs, sentinel strings in the text, malformed FIM fields."""

from __future__ import annotations

import math

import pytest
from realtext import code_files

from runners.curation.fim import Sentinels, apply_fim, fim_parts, render


def _code_docs() -> list[dict]:
    docs = [{"id": f"py-{i}", "text": t, "lang": "python"} for i, t in enumerate(code_files())]
    docs += [
        {"id": "uni-0", "text": "def grüße():\n    return '日本語テキスト 🙂👍🏽 naïve café'\n"},
        {"id": "uni-1", "text": "🙂" * 50},
        {"id": "uni-2", "text": "é" * 3 + "中文" * 20},
    ]
    return docs


def _within_binomial(k: int, n: int, p: float, z: float = 4.0) -> bool:
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p))


def test_prefix_middle_suffix_rebuilds_the_original():
    docs = _code_docs()
    by_id = {d["id"]: d["text"] for d in docs}
    result = apply_fim(docs, rate=1.0, seed=3)
    assert len(result.kept) == len(docs)
    for doc in result.kept:
        assert doc["text"] == by_id[doc["id"]]  # the text itself is never rewritten
        _, prefix, middle, suffix = fim_parts(doc)
        assert prefix + middle + suffix == by_id[doc["id"]]
        assert prefix and suffix  # cuts never on the first or last character
        assert doc.get("lang") == ("python" if doc["id"].startswith("py") else None)  # carried through
        assert doc["text"].encode("utf-8").decode("utf-8") == doc["text"]
    kinds = {d["fim"]["order"] for d in result.kept}
    assert kinds == {"psm", "spm"}


def test_formats_follow_starcoder_sentinels():
    s = Sentinels()
    for doc in apply_fim([{"id": str(i), "text": "abcdefghij"} for i in range(40)], rate=1.0).kept:
        order, p, m, x = fim_parts(doc)
        if order == "psm":
            assert render(doc) == f"{s.prefix}{p}{s.suffix}{x}{s.middle}{m}"
        else:
            assert render(doc) == f"{s.suffix}{x}{s.prefix}{p}{s.middle}{m}"


@pytest.mark.parametrize(("rate", "spm_rate"), [(0.5, 0.5), (0.2, 0.9)])
def test_rates_within_binomial_confidence(rate, spm_rate):
    n = 4000
    docs = [{"id": f"d{i}", "text": f"x = {i}\nprint(x * 2)\n"} for i in range(n)]
    result = apply_fim(docs, rate=rate, spm_rate=spm_rate, seed=11)
    transformed = result.stats["psm"] + result.stats["spm"]
    assert _within_binomial(transformed, n, rate)
    assert _within_binomial(result.stats["spm"], transformed, spm_rate)


def test_cut_points_are_uniform_over_interior_positions():
    n, text = 4000, "0123456789"
    counts = [0] * len(text)
    for doc in apply_fim([{"id": f"u{i}", "text": text} for i in range(n)], rate=1.0, seed=2).kept:
        _, prefix, middle, _ = fim_parts(doc)
        counts[len(prefix)] += 1
        counts[len(prefix) + len(middle)] += 1
    assert counts[0] == 0  # never before the first character (nor after the last: index 10)
    for c in counts[1:]:
        assert _within_binomial(c, 2 * n, 1 / 9)


def test_seeded_per_document_independent_of_order():
    docs = _code_docs()
    forward = {d["id"]: d.get("fim") for d in apply_fim(docs, seed=5).kept}
    backward = {d["id"]: d.get("fim") for d in apply_fim(list(reversed(docs)), seed=5).kept}
    half = {d["id"]: d.get("fim") for d in apply_fim(docs[::2], seed=5).kept}
    assert forward == backward
    assert all(forward[k] == v for k, v in half.items())
    other = {d["id"]: d.get("fim") for d in apply_fim(docs, seed=6).kept}
    assert other != forward


def test_short_docs_unchanged_and_sentinel_text_is_just_text():
    docs = [{"id": "a", "text": "x"}, {"id": "b", "text": ""},
            {"id": "c", "text": "has <|fim_middle|> inside already: only text, so it can be cut like any other"}]
    result = apply_fim(docs, rate=1.0, min_chars=2)
    assert [d["text"] for d in result.kept] == [d["text"] for d in docs]
    assert result.stats["too_short"] == 2 and result.stats["psm"] + result.stats["spm"] == 1
    assert "".join(fim_parts(result.kept[2])[1:]) == docs[2]["text"]
    assert result.removed == []
    two = apply_fim([{"id": "t", "text": "ab"}], rate=1.0).kept[0]
    assert fim_parts(two)[1:] == ("a", "", "b")


def test_custom_sentinels_and_malformed_fim_fields():
    s = Sentinels(prefix="<PRE>", middle="<MID>", suffix="<SUF>")
    doc = apply_fim([{"id": "z", "text": "hello world"}], rate=1.0).kept[0]
    shown = render(doc, s)
    assert shown.count("<PRE>") == shown.count("<MID>") == shown.count("<SUF>") == 1
    assert render({"id": "p", "text": "plain"}) == "plain"
    for bad in ("psm", {"order": "psm", "cuts": [3, 99]}, {"order": "xyz", "cuts": [1, 2]}):
        with pytest.raises(ValueError, match="document 'q'"):
            fim_parts({"id": "q", "text": "hello", "fim": bad})
