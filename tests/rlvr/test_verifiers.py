"""Verifiers on real answer formats: equivalent forms accepted, wrong ones rejected, a pathological
expression timed out to a clear exception (the stage scores it 0), every constraint checker with a
passing and a failing case, and the tiny corpus's own demonstrations accepted."""

import json
import threading
import time
from pathlib import Path

import pytest

from runners.rlvr import ifeval
from runners.rlvr.answers import as_number, extract_answer
from runners.rlvr.verifiers import (
    VerifierTimeout,
    format_reward,
    ifeval_reward,
    math_reward,
    random_reward,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("form", ["1/2", "0.5", r"\frac{1}{2}", r"\boxed{0.5}", r"$\dfrac{1}{2}$", ".5"])
@pytest.mark.parametrize("gold", ["1/2", "0.5", r"\frac{1}{2}"])
def test_equivalent_forms_of_one_half(form, gold):
    completion = form if form.startswith(r"\boxed") else f"So we get a half. Answer: {form}"
    assert math_reward(completion, gold) == 1.0


@pytest.mark.parametrize("completion", ["Answer: 0.6", r"\boxed{1/3}", "Answer: 2", "I do not know."])
def test_wrong_answers_rejected(completion):
    assert math_reward(completion, "1/2") == 0.0


def test_symbolic_answers_go_through_math_verify():
    assert math_reward(r"The answer is $\boxed{\sqrt{8}}$", r"2\sqrt{2}") == 1.0
    assert math_reward(r"\boxed{x^2+2x+1}", "(x+1)^2") == 1.0
    assert math_reward(r"\boxed{\sqrt{7}}", r"2\sqrt{2}") == 0.0


def test_extraction_takes_the_last_answer():
    assert extract_answer("First the answer: 3 + 4 = 7. Answer: 7") == "7"
    assert extract_answer(r"\boxed{1} then \boxed{\frac{2}{3}} wait") == r"\frac{2}{3}"
    assert extract_answer("Ben has 82 coins.") is None
    assert extract_answer("<think>Answer: 5</think>no answer here") is None
    assert extract_answer("work...\n#### 1,234") == "1,234"
    assert as_number("1,234") == 1234 and as_number("12,34") is None


def test_the_tiny_sft_format_scores():
    done = "Subtract to find what is left: 97 - 15 = 82. Answer: 82"
    assert math_reward(done, "82") == 1.0
    assert math_reward(done, "83") == 0.0
    assert format_reward(done) == 1.0 and format_reward("Subtract 97 - 15 = 82.") == 0.0
    assert format_reward("Answer: 1000000") == 1.0  # content ignored


def test_pathological_expression_times_out_off_the_main_thread():
    """9^(9^(9^9)) makes sympy compute forever: the worker is killed at the timeout, from a thread
    (math-verify's own SIGALRM timeout cannot work there), and the next call still works."""
    out: dict = {}

    def call():
        t = time.perf_counter()
        try:
            math_reward(r"\boxed{9^{9^{9^{9}}}}", "1", timeout=1.0)
        except VerifierTimeout as e:
            out["error"] = e
        out["seconds"] = time.perf_counter() - t

    th = threading.Thread(target=call)
    th.start()
    th.join(60)
    assert isinstance(out.get("error"), VerifierTimeout)
    assert out["seconds"] < 30
    assert math_reward(r"\boxed{\frac{4}{8}}", "1/2") == 1.0


def test_random_reward_is_seeded_and_balanced():
    draws = [random_reward(f"completion {i}", seed=3) for i in range(2000)]
    assert draws == [random_reward(f"completion {i}", seed=3) for i in range(2000)]
    assert draws != [random_reward(f"completion {i}", seed=4) for i in range(2000)]
    assert 0.45 < sum(draws) / len(draws) < 0.55
    assert random_reward("x", 0, p=0.0) == 0.0 and random_reward("x", 0, p=1.0) == 1.0


CASES = [  # (constraint, passing response, failing response)
    ({"type": "lowercase"}, "all lower case here", "Not lower"),
    ({"type": "uppercase"}, "ALL CAPS HERE", "ALL CAPS bUT ONE"),
    ({"type": "word_count", "min": 3, "max": 5}, "one two three four", "one two"),
    ({"type": "word_count", "min": 1, "max": 2}, "one two", "one two three"),
    ({"type": "sentence_count", "min": 2, "max": 2}, "It works. It is small!", "Only one sentence here."),
    ({"type": "paragraph_count", "min": 2, "max": 2}, "First part.\n\nSecond part.", "One block\nof text."),
    ({"type": "include_keyword", "word": "useful"}, "It is Useful.", "It is usefulness."),
    ({"type": "exclude_keyword", "word": "tool"}, "A toolkit for you.", "A tool for you."),
    ({"type": "keyword_frequency", "word": "cat", "min": 2}, "cat and Cat", "one cat"),
    ({"type": "start_with", "text": "Dear"}, "  Dear reader", "Hello, dear"),
    ({"type": "end_with", "text": "That is all."}, "Done. That is all.  ", "That is all. More."),
    ({"type": "no_comma"}, "no commas at all", "one, two"),
    ({"type": "quotation"}, '"all quoted"', '"half quoted'),
    ({"type": "title"}, "<<My Title>>\nbody", "My Title\nbody"),
    ({"type": "bullet_count", "min": 2, "max": 2}, "* one\n- two", "* only one"),
    ({"type": "json"}, '{"name": "jq", "summary": "a filter"}', "name: jq"),
    ({"type": "json"}, '```json\n{"a": 1}\n```', '{"a": 1'),
]


@pytest.mark.parametrize(("constraint", "good", "bad"), CASES, ids=[f"{c[0]['type']}-{i}" for i, c in enumerate(CASES)])
def test_every_constraint_checker(constraint, good, bad):
    assert ifeval.validate([constraint]) is None
    assert ifeval_reward(good, [constraint]) == 1.0
    assert ifeval_reward(bad, [constraint]) == 0.0


def test_every_checker_has_a_case():
    assert {c[0]["type"] for c in CASES} == set(ifeval.CHECKS)


def test_all_or_nothing_and_fraction():
    cs = [{"type": "lowercase"}, {"type": "include_keyword", "word": "stable"}, {"type": "no_comma"}]
    assert ifeval_reward("it is stable", cs) == 1.0
    assert ifeval_reward("it is Stable, yes", cs) == 0.0
    assert ifeval_reward("it is Stable, yes", cs, mode="fraction") == pytest.approx(1 / 3)
    assert ifeval_reward("<think>PLAN, Caps</think>it is stable", cs) == 1.0


@pytest.mark.parametrize("bad", [[], [{"type": "shout"}], [{"type": "include_keyword"}],
                                 [{"type": "word_count", "min": "3"}], [{"type": "lowercase", "x": 1}]])
def test_malformed_constraints_are_named(bad):
    assert ifeval.validate(bad)
    with pytest.raises(ValueError):
        ifeval_reward("text", bad)


def test_tiny_corpus_demonstrations_pass_and_eval_items_are_well_formed():
    """Every instruction-following SFT demo of the tiny corpus is built to pass the generator's
    checker: the verifier must agree on each of them, and accept every eval item's constraints."""
    n = 0
    for line in (ROOT / "specs/data/tiny/sft/sft.jsonl").open():
        rec = json.loads(line)
        if "constraints" in rec:
            assert ifeval_reward(rec["messages"][-1]["content"], rec["constraints"]) == 1.0, rec["id"]
            n += 1
    assert n > 100
    for line in (ROOT / "specs/data/tiny/evals/ifeval.jsonl").open():
        assert ifeval.validate(json.loads(line)["constraints"]) is None
