"""The reward functions of RLVR, shared with the evaluations (the RL verifier is the eval scorer).

Each is a plain function of a completion and the record's ground truth, returning a float in [0, 1]:

    math_reward(completion, answer, timeout=5.0)        1 if the final answer equals `answer`
    ifeval_reward(completion, constraints, mode="all")  all constraints (1/0) or the fraction met
    code_reward(completion, tests, mode="pass_rate")     unit tests run in the sandbox
    random_reward(completion, seed, p=0.5)              seeded Bernoulli: the spurious-reward control
    format_reward(completion)                           1 if a final answer is stated, content ignored

A completion's final answer is its last `\\boxed{}` or its last "Answer: ..." line
(`runners.rlvr.answers`); plain numbers are compared exactly, anything else with math-verify in a
worker process under `timeout` (`runners.rlvr.mathcheck`; raises `VerifierTimeout`). The stage's
scorer (`runners.rlvr.rewards`) turns any exception into reward 0 and counts it by reason.
"""

from __future__ import annotations

import hashlib

from runners.rlvr import ifeval
from runners.rlvr.answers import as_number, extract_answer, strip_thinking
from runners.rlvr.mathcheck import VerifierTimeout, equivalent

__all__ = ["VerifierTimeout", "code_reward", "format_reward", "ifeval_reward", "math_reward", "random_reward"]


def math_reward(completion: str, answer: str, timeout: float = 5.0) -> float:
    """1.0 if the completion's final answer is mathematically equal to `answer`, else 0.0."""
    pred = extract_answer(completion)
    if pred is None:
        return 0.0
    gold = str(answer).strip()
    g, p = as_number(gold), as_number(pred)
    if g is not None and p is not None:
        if g == p:
            return 1.0
        if g.denominator == 1 and p.denominator == 1:
            return 0.0  # two integers: nothing symbolic left to try
    return 1.0 if equivalent(gold, pred, timeout) else 0.0


def ifeval_reward(completion: str, constraints: list[dict], mode: str = "all") -> float:
    """`all`: 1.0 only if every constraint holds (OLMo 3's IF reward); `fraction`: the share that hold.
    Any thinking section is removed first. Raises ValueError for a malformed constraint list."""
    ok = ifeval.satisfied(strip_thinking(completion).strip(), constraints)
    if mode == "all":
        return 1.0 if all(ok) else 0.0
    if mode == "fraction":
        return sum(ok) / len(ok)
    raise ValueError(f"ifeval_reward mode must be 'all' or 'fraction', not {mode!r}")


def random_reward(completion: str, seed: int, p: float = 0.5) -> float:
    """Bernoulli(p) drawn from a hash of (seed, completion): independent of correctness, and the same
    for the same inputs (so a rerun with the same seed gives the same rewards)."""
    digest = hashlib.sha256(f"{seed}\0{completion}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    return 1.0 if u < p else 0.0


def format_reward(completion: str) -> float:
    """1.0 if the completion states a final answer (`\\boxed{}` or an "Answer:" line), whatever it is."""
    return 0.0 if extract_answer(completion) is None else 1.0


def code_reward(completion: str, tests, mode: str = "pass_rate", timeout: float = 10.0) -> float:
    """Run the completion's last fenced Python block (or the whole text) with `tests` (Python source
    that asserts, or a list of such sources, one test each) in the sandbox. `pass_rate`: the share
    of tests passed; `all`: 1.0 only if all pass."""
    from runners.rlvr.sandbox import extract_code, run_tests

    result = run_tests(extract_code(completion), [tests] if isinstance(tests, str) else list(tests),
                       timeout=timeout)
    rate = result.passed / max(1, result.total)
    if mode == "pass_rate":
        return rate
    if mode == "all":
        return 1.0 if result.passed == result.total and result.total else 0.0
    raise ValueError(f"code_reward mode must be 'pass_rate' or 'all', not {mode!r}")
