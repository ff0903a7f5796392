"""RULER: NVIDIA's scorers (where lm-eval's differ), and generators whose every sample fits its token
budget under the model's tokenizer, with each needle where the generator says it put it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.ruler import sample_score, string_match_all, string_match_part
from evals.ruler.niah import TASKS as NIAH
from evals.ruler.tasks import GEN_TOKENS, TASK_NAMES, RulerSizeError, generate

ROOT = Path(__file__).resolve().parents[2]
HAYSTACK = ROOT / "specs/data/tiny/ruler/haystack.jsonl"


def test_gold_scores_100_and_empty_scores_0():
    refs = [["1234567"], ["ABCDE", "FGHIJ"]]
    assert string_match_all(["The number is 1234567.", "ABCDE and fghij"], refs) == 100.0
    assert string_match_all(["", ""], refs) == 0.0
    assert string_match_part(["", ""], refs) == 0.0
    assert string_match_all(["\x00 1234567 \x1f", "ABCDE"], refs) == 75.0  # half of the second sample's refs


def test_string_match_part_is_nvidias_any_match_not_lm_evals_fraction():
    # NVIDIA: 100 when ANY reference is found; lm-eval's port scores the fraction found (0.5 here)
    preds, refs = ["Paris"], [["Paris", "France"]]
    assert string_match_part(preds, refs) == 100.0
    assert string_match_all(preds, refs) == 50.0
    # two predictions: NVIDIA averages over predictions; lm-eval takes the max and divides by N
    preds2, refs2 = ["Paris", "nothing"], [["Paris", "France"], ["Rome"]]
    assert string_match_part(preds2, refs2) == 50.0
    lm = pytest.importorskip("lm_eval.tasks.ruler.common_utils")
    assert lm.string_match_part(preds, refs) == 0.5  # the documented discrepancy, still there
    assert lm.string_match_part(preds2, refs2) == 0.25
    assert round(100 * lm.string_match_all(preds2, refs2) / 1, 2) == string_match_all(preds2, refs2)


def test_scores_round_to_two_decimals_and_reject_bad_input():
    assert string_match_all(["a", "a", "b"], [["a"], ["a"], ["a"]]) == 66.67
    assert sample_score("x a", ["a", "b", "c"]) == pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="reference"):
        string_match_all(["a"], ["a"])  # a bare string is not a list of references
    with pytest.raises(ValueError, match="predictions"):
        string_match_all(["a", "b"], [["a"]])


@pytest.fixture(scope="module")
def count(tmp_path_factory):
    from tiny_export import export_tiny_model
    from transformers import AutoTokenizer

    folder = export_tiny_model(tmp_path_factory.mktemp("ruler-model"))
    tok = AutoTokenizer.from_pretrained(folder)
    return lambda text: len(tok(text)["input_ids"])


@pytest.fixture(scope="module")
def essay():
    texts = [json.loads(line)["text"] for line in HAYSTACK.read_text().splitlines()]
    return " ".join(texts).split()


@pytest.mark.parametrize("task", [t for t in TASK_NAMES if t != "cwe"])
def test_every_sample_fits_its_budget_and_holds_its_answers(task, count, essay):
    samples = generate(task, 1024, count, essay, n=3)
    assert [s["index"] for s in samples] == [0, 1, 2]
    for s in samples:
        assert count(s["input"]) + GEN_TOKENS[task] == s["length"] <= 1024
        assert s["length"] > 1024 * 0.75, "the haystack should fill the budget, not a fraction of it"
        for answer in s["outputs"]:
            assert answer in s["input"]
        assert string_match_all([" ".join(s["outputs"])], [s["outputs"]]) == 100.0
        assert string_match_all([""], [s["outputs"]]) == 0.0


def test_samples_are_a_pure_function_of_the_seed(count, essay):
    for task in ("niah_single_2", "niah_multikey_3", "fwe"):
        samples = generate(task, 1024, count, essay, n=2)
        assert generate(task, 1024, count, essay, n=2) == samples
        assert generate(task, 1024, count, essay, n=2, seed=7) != samples


@pytest.mark.parametrize("task", list(NIAH))
def test_needles_are_where_the_generator_says(task, count, essay):
    from evals.ruler.text import split_sentences

    cfg = NIAH[task]
    for s in generate(task, 1024, count, essay, n=3):
        assert len(s["needles"]) == max(cfg.num_k, cfg.num_q) * cfg.num_v
        text = s["input"]
        context_start = text.index("\n") + 1
        needles = [n["needle"] for n in s["needles"]]
        for n in s["needles"]:
            assert text[n["offset"]: n["offset"] + len(n["needle"])] == n["needle"]
            assert n["needle"].startswith("One of the special magic ")
            before = text[context_start: n["offset"]]
            for other in needles:
                before = before.replace(other, "")
            # the needle sits after exactly the number of haystack units its depth says
            if cfg.haystack == "essay":
                assert len(split_sentences(before)) == n["after_units"] == int(n["units"] * n["depth"] / 100)
            else:
                assert before.count("\n") - len([o for o in needles if o in text[context_start:n["offset"]]]) \
                    == n["after_units"]
        values = {n.rsplit(" ", 1)[1].rstrip(".") for n in needles}
        assert set(s["outputs"]) <= values


def test_vt_chain_lines_are_where_the_generator_says(count, essay):
    for s in generate("vt", 1024, count, essay, n=2):
        lines = [s["input"][n["offset"]:].split(" ", 3)[:2] for n in s["needles"]]
        assert [name for _, name in lines] == s["outputs"]


def test_a_length_the_template_cannot_fit_is_a_clear_error(count, essay):
    with pytest.raises(RulerSizeError, match=r"cwe cannot fit 512 tokens: its smallest sample needs \d+"):
        generate("cwe", 512, count, essay, n=1)
    with pytest.raises(ValueError, match="unknown RULER task 'qa_3'"):
        generate("qa_3", 512, count, essay, n=1)


def test_the_size_search_never_counts_a_text_twice_as_long_as_the_answer():
    from evals.ruler.tasks import _largest

    for answer in (1, 2, 7, 500, 4095):
        tried: list[int] = []

        def fits(size: int, answer: int = answer, tried: list[int] = tried) -> bool:
            tried.append(size)
            return size <= answer

        assert _largest(fits, 1, 100_000) == answer
        assert max(tried) <= 2 * answer + 1, (answer, max(tried))
    assert _largest(lambda s: s <= 50, 60, 100) is None
    assert _largest(lambda s: True, 3, 9) == 9
