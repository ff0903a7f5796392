"""Active sampling and the stage's scorer, on their own: batches refilled to full, dropped groups
and refills counted, prompts retired above the pass rate, the pool's order resumable; a verifier
that raises or times out gives reward 0 and is counted by reason."""

from types import SimpleNamespace

import pytest

from runners.rlvr.prompts import PromptPool, problem
from runners.rlvr.rewards import Scorer
from runners.rlvr.sampling import Group, fill_batch


def _sampler(rewards_of):
    calls = []

    def sample(picks, attempt):
        calls.append(list(picks))
        return [Group(i, [1], [SimpleNamespace(token_ids=[2], text="")] * 4, rewards_of(i), "math") for i in picks]

    return sample, calls


def test_refills_until_full_and_counts():
    # prompts with an even index get mixed rewards, odd ones all-zero: half of each draw is dropped
    sample, calls = _sampler(lambda i: [1.0, 0.0, 0.0, 0.0] if i % 2 == 0 else [0.0] * 4)
    pool = PromptPool(100, seed=1)
    out = fill_batch(pool, sample, 8, active=True, max_refills=8, retire_above=0.875)
    assert len(out.groups) == 8 and all(g.informative for g in out.groups)
    assert out.refills == len(calls) - 1 >= 1
    assert out.dropped + out.surplus == len(out.sampled) - 8 and 0 < out.dropped_frac < 1
    assert len(calls[0]) == 8
    # half were kept: the refill asks for twice the missing groups (capped at one batch)
    assert len(calls[1]) == min(8, 2 * (8 - sum(i % 2 == 0 for i in calls[0])))
    assert out.surplus == sum(i % 2 == 0 for c in calls for i in c) - 8


def test_inactive_keeps_everything_and_bounded_refills_may_leave_a_short_batch():
    sample, _ = _sampler(lambda i: [0.0] * 4)
    out = fill_batch(PromptPool(50, 0), sample, 4, active=False, max_refills=8, retire_above=None)
    assert len(out.groups) == 4 and out.refills == 0 and out.dropped == 0
    out = fill_batch(PromptPool(50, 0), sample, 4, active=True, max_refills=3, retire_above=None)
    assert out.groups == [] and out.refills == 3 and out.dropped == 16


def test_solved_prompts_are_retired_and_never_drawn_again():
    sample, calls = _sampler(lambda i: [1.0] * 4 if i < 5 else [1.0, 0.0, 1.0, 0.0])
    pool = PromptPool(10, 0)
    for _ in range(6):
        fill_batch(pool, sample, 3, active=True, max_refills=4, retire_above=0.875)
    assert pool.retired == set(range(5))
    late = [i for c in calls[-4:] for i in c]
    assert not set(late) & set(range(5))


def test_pool_resumes_exactly():
    a = PromptPool(30, 7)
    a.take(11)
    a.retire(3)
    b = PromptPool(30, 7)
    b.load_state_dict(a.state_dict())
    assert a.take(40) == b.take(40)
    every = PromptPool(5, 0)
    for i in range(5):
        every.retire(i)
    with pytest.raises(Exception, match="retired"):
        every.take(1)


def test_scorer_turns_failures_into_zero_and_counts_them():
    s = Scorer(("math", "ifeval"), seed=0, timeout=0.5)
    assert s({"id": "a", "verifier": "math", "answer": "2"}, "Answer: 2", (0, 0, 0)) == 1.0
    slow = s({"id": "b", "verifier": "math", "answer": "1"}, r"\boxed{9^{9^{9^{9}}}}", (0, 0, 1))
    broken = s({"id": "c", "verifier": "ifeval", "constraints": [{"type": "shout"}]}, "text", (0, 0, 2))
    assert slow == 0.0 and broken == 0.0
    assert s.counts == {"timeout": 1, "error:ValueError": 1}


def test_controls_replace_the_verifier():
    rand = Scorer(("random",), seed=0)
    rec = {"id": "a", "verifier": "math", "answer": "2"}
    draws = [rand(rec, "Answer: 2", (step, 0, j)) for step in range(50) for j in range(4)]
    assert 0.35 < sum(draws) / len(draws) < 0.65  # independent of correctness
    fmt = Scorer(("format",), seed=0)
    assert fmt(rec, "Answer: 999", (0, 0, 0)) == 1.0 and fmt(rec, "2", (0, 0, 0)) == 0.0


@pytest.mark.parametrize(("rec", "why"), [
    ({"prompt": "p", "verifier": "math"}, "answer"),
    ({"prompt": "p", "verifier": "ifeval", "constraints": []}, "non-empty"),
    ({"prompt": "p", "verifier": "code", "tests": 3}, "tests"),
    ({"prompt": "", "verifier": "math", "answer": "1"}, "prompt"),
    ({"prompt": "p", "verifier": "judge"}, "unknown verifier"),
])
def test_bad_records_are_named(rec, why):
    assert why in problem(rec)
