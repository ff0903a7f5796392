"""The pairs stage's filters on hand-written completions, with the real RLVR verifiers: the chosen
side must pass the prompt's verifier (math answer, IFEval constraints) when `verify` is on."""

from __future__ import annotations

import pytest

from runners.generate import Completion
from runners.pairs import judge


def c(text: str, reason: str = "eos") -> Completion:
    return Completion(text, [1, 2], [-0.1, -0.2], reason)


MATH = {"id": "m", "prompt": "What is 2 + 2?", "verifier": "math", "answer": "4"}
IFEVAL = {"id": "i", "prompt": "Describe zlib in lowercase.", "verifier": "ifeval", "answer": "",
          "constraints": [{"type": "lowercase"}]}


@pytest.mark.parametrize(("chosen", "rec", "verify", "want"), [
    (c("2 + 2 = 4. Answer: 4"), MATH, True, (None, ["nonempty", "chosen_complete", "distinct", "verifier:math"])),
    (c("2 + 2 = 5. Answer: 5"), MATH, True, ("chosen_failed_math", [])),
    (c("2 + 2 = 5. Answer: 5"), MATH, False, (None, ["nonempty", "chosen_complete", "distinct"])),
    (c("zlib compresses data."), IFEVAL, True, (None, ["nonempty", "chosen_complete", "distinct", "verifier:ifeval"])),
    (c("Zlib compresses data."), IFEVAL, True, ("chosen_failed_ifeval", [])),
    (c("anything"), {"id": "n", "prompt": "hi"}, True, (None, ["nonempty", "chosen_complete", "distinct"])),
    (c("  "), MATH, True, ("empty_chosen", [])),
    (c("Answer: 4", "length"), MATH, True, ("chosen_truncated", [])),
])
def test_filters(chosen, rec, verify, want):
    assert judge(chosen, c("no idea"), rec, verify) == want


def test_empty_and_identical_rejected_side():
    assert judge(c("Answer: 4"), c(""), MATH, True) == ("empty_rejected", [])
    assert judge(c("Answer: 4"), c("Answer: 4"), MATH, True) == ("identical", [])
