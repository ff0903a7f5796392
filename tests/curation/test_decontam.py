"""Decontamination: planted items are found through edits; real clean prose is left alone."""

from __future__ import annotations

import pickle
import random
import re

import pytest
from realtext import docstrings, licence_paragraphs, package_descriptions

from runners.curation.decontam import build_index, decontaminate, normalize, scan, scan_reference


def _dpkg_and_licences() -> list[str]:
    """The clean corpus: package descriptions and licences (the items come from docstrings)."""
    return list(package_descriptions() + licence_paragraphs())


def _docstring_items(n: int = 150) -> list[dict]:
    """Evaluation items made of real sentences (stdlib docstrings), split into question and answer."""
    texts = [t for t in docstrings() if 30 <= len(t.split()) <= 80]
    random.Random(0).shuffle(texts)
    items = []
    for i, t in enumerate(texts[:n]):
        words = t.split()
        cut = int(len(words) * 0.7)
        items.append({"id": f"doc-{i}", "question": " ".join(words[:cut]), "answer": " ".join(words[cut:])})
    return items


def test_normalize_strips_case_punctuation_and_space():
    assert normalize("  Hello,\tWORLD!!  it's\u00a0fine\u2014ok. ") == "hello world its fineok"
    # composed vs decomposed accents, full-width letters, curly quotes
    variant = normalize("Cafe\u0301 \uff26\uff35\uff2c\uff2c don\u2019t")
    assert variant == normalize("Café full dont") == "café full dont"


def test_planted_items_are_found_through_edits():
    rng = random.Random(1)
    items = _docstring_items(40)
    clean = _dpkg_and_licences()
    index = build_index({"docq": items})
    docs, expected = [], {}

    def plant(kind: str, item: dict, text: str) -> None:
        host = clean[rng.randrange(len(clean))]
        cut = rng.randrange(len(host))
        if kind == "at_beginning":
            body = f"{text} {host}"
        elif kind == "at_end":
            body = f"{host} {text}"
        else:
            body = f"{host[:cut]} {text} {host[cut:]}"
        doc_id = f"{kind}-{item['id']}"
        docs.append({"id": doc_id, "text": body})
        expected[doc_id] = item["id"]

    for item in items:
        words = f"{item['question']} {item['answer']}".split()
        plant("exact", item, " ".join(words))
        ins = list(words)
        ins.insert(rng.randrange(1, len(ins)), "banana")
        ins.insert(rng.randrange(1, len(ins)), "zebra")
        plant("insertion", item, " ".join(ins))
        dele = list(words)
        del dele[rng.randrange(len(dele))]
        plant("deletion", item, " ".join(dele))
        punct = re.sub(r"[.,;:()]", "", " ".join(words)).upper().replace(" ", " , ", 3)
        plant("punctuation", item, punct)
        plant("question_only", item, item["question"])
        plant("at_beginning", item, " ".join(words))
        plant("at_end", item, " ".join(words))
    clean_docs = [{"id": f"clean-{i}", "text": t} for i, t in enumerate(clean)]
    result = decontaminate(docs + clean_docs, index)
    removed = {r.id: r for r in result.removed}
    assert set(removed) == set(expected)
    slow = scan_reference([d["text"] for d in docs + clean_docs], {"docq": items})
    assert {d["id"] for d, units in zip(docs + clean_docs, slow, strict=True) if units} == set(expected)
    for doc_id, item_id in expected.items():
        assert f"item={item_id} " in removed[doc_id].detail and "benchmark=docq" in removed[doc_id].detail
    assert {r.reason for r in result.removed} == {"contamination"}
    assert len(result.kept) == len(clean_docs)
    report = result.stats["report"]["docq"]
    assert report == {"items": 40, "items_too_short": 0, "items_found": 40, "documents_removed": len(docs)}


def test_clean_corpus_has_no_false_positives():
    items = _docstring_items(150)
    gsm_like = [
        {"id": f"math-{i}", "question": f"{name} has {a} apples and buys {b} more. How many apples does "
         f"{name} have now?", "answer": str(a + b)}
        for i, (name, a, b) in enumerate([("Ann", 3, 4), ("Bob", 12, 30), ("Cleo", 7, 8)])
    ]
    mc = [{"id": "mc-0", "question": "Which licence is copyleft?", "choices": ["MIT", "GPL"], "label": 1}]
    index = build_index({"docq": items, "math": gsm_like, "mc": mc})
    clean = [{"id": str(i), "text": t} for i, t in enumerate(_dpkg_and_licences())]
    result = decontaminate(clean, index)
    assert result.removed == []
    assert len(result.kept) == len(clean)


def test_straddling_short_and_multiple_choice_items():
    items = {
        "mc": [{"id": "q1", "question": "Which gas do plants absorb from the air during photosynthesis?",
                "choices": ["Oxygen", "Carbon dioxide", "Helium"], "label": 1}],
        "short": [{"id": "s1", "question": "Capital of Mongolia?", "answer": "Ulaanbaatar"},
                  {"id": "s2", "question": "Yes?", "answer": "no"}],
    }
    index = build_index(items)
    assert index.skipped == {"mc": 0, "short": 1}  # two words: too short to match safely
    with pytest.raises(ValueError, match="benchmark 'mc' item 'bad'"):
        build_index({"mc": [{"id": "bad", "question": "Which?", "choices": ["a"], "label": 3}]})
    docs = [
        "Quiz: which gas do plants absorb from the air during photosynthesis? Carbon dioxide, of course.",
        "The capital of Mongolia? Ulaanbaatar, a cold city.",
        "Is it yes? No, it is not.",
        "Which gas do plants absorb? Mostly they release oxygen during the day.",
    ]
    matches = scan(docs, index)
    assert [[(m.unit.benchmark, m.unit.item_id) for m in ms][:1] for ms in matches] == [
        [("mc", "q1")], [("short", "s1")], [], [],
    ]


@pytest.mark.parametrize("seed", [0, 1])
def test_vectorized_scan_agrees_with_reference(seed):
    rng = random.Random(seed)
    vocab = ["the", "a", "of", "cat", "dog", "sat", "on", "mat", "ran", "far", "away", "home", "big", "red"]
    items = [{"id": str(i), "question": " ".join(rng.choices(vocab, k=rng.randrange(3, 14))),
              "answer": " ".join(rng.choices(vocab, k=rng.randrange(1, 4)))} for i in range(30)]
    texts = [" ".join(rng.choices(vocab, k=rng.randrange(0, 300))) for _ in range(200)]
    index = build_index({"toy": items}, n=4)
    fast = [{(m.unit.benchmark, m.unit.item_id) for m in ms} for ms in scan(texts, index)]
    reference = scan_reference(texts, {"toy": items}, n=4)
    slow = [{(bench, item) for bench, item, _ in units} for units in reference]
    assert fast == slow
    assert any(fast)


def test_several_items_in_one_document_and_markup():
    items = {
        "facts": [{"id": "tower", "text": "The iron lattice tower on the Champ de Mars in Paris was "
                   "completed in 1889 for the World's Fair and is now a global cultural icon."}],
        "science": [{"id": "crust", "question": "Which chemical element makes up the largest share of the "
                     "mass of the Earth's crust?", "answer": "Oxygen, at about 46 percent."}],
    }
    index = pickle.loads(pickle.dumps(build_index(items)))  # what a worker receives
    docs = [
        {"id": "both", "text": "Fact one: the iron lattice tower on the Champ de Mars in Paris was "
         "completed in 1889 for the World's Fair and is now a global cultural icon. Fact two: which "
         "chemical element makes up the largest share of the mass of the Earth's crust? Oxygen, at "
         "about 46 percent."},
        {"id": "markup", "text": "The **iron lattice tower** on the *Champ de Mars* (Paris) was completed in "
         "1889 -- for the World's Fair -- and is now a *global* cultural icon!!!"},
        {"id": "paraphrase", "text": "Built for the 1889 World's Fair, the Paris tower became an icon."},
    ]
    result = decontaminate(docs, index)
    removed = {r.id: r.detail for r in result.removed}
    assert set(removed) == {"both", "markup"}
    assert removed["both"].endswith("(+1 more)")
    assert result.stats["report"]["facts"]["documents_removed"] == 2
    assert result.stats["report"]["science"] == {
        "items": 1, "items_too_short": 0, "items_found": 1, "documents_removed": 1}
    assert [d["id"] for d in result.kept] == ["paraphrase"]
