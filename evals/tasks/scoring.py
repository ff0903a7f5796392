"""lm-eval `process_results` and aggregation functions of the local tasks.

Each is a thin call into the scorer that training uses, so a number in an eval table and a reward in
RL mean the same thing ("the RL verifier is the eval scorer"): math and instruction following call
`runners.rlvr.verifiers`, code runs in its sandbox (`code_reward`), RULER uses NVIDIA's scorers
(`evals.ruler`). lm-eval calls `fn(doc, results)` with the model's (filtered) responses; every item's
metric values are logged with its sample, and the eval stage keeps them for the report's bootstrap.
"""

from __future__ import annotations

import json


def _record(doc: dict) -> dict:
    return json.loads(doc["record"])


def math_results(doc: dict, results: list[str]) -> dict[str, float]:
    from runners.rlvr.verifiers import VerifierTimeout, math_reward

    # NOTE: a base-model prompt ends with "Answer:", which the completion continues; the verifier
    # reads the final "Answer: ..." line, so it is given the prompt's prefix back.
    text = doc["answer_prefix"] + results[0]
    try:
        score = math_reward(text, str(_record(doc)["answer"]))
    except VerifierTimeout:  # scores 0, as in RL
        score = 0.0
    return {"exact_match": score}


def gold_results(doc: dict, results: list[tuple[float, bool]]) -> dict[str, float]:
    """The gold answer's log-likelihood in nats (lm-eval's loglikelihood request: (logprob, is_greedy))."""
    logprob, _ = results[0]
    return {"gold_logprob": float(logprob)}


def ifeval_results(doc: dict, results: list[str]) -> dict[str, object]:
    from runners.rlvr.verifiers import ifeval_reward

    constraints = _record(doc)["constraints"]
    return {"prompt_level_strict_acc": ifeval_reward(results[0], constraints, mode="all"),
            "inst_level_strict_acc": (ifeval_reward(results[0], constraints, mode="fraction"), len(constraints))}


def instruction_mean(values: list[tuple[float, int]]) -> float:
    """Instruction-level accuracy: constraints met over constraints asked, pooled over prompts."""
    asked = sum(n for _, n in values)
    return sum(f * n for f, n in values) / asked if asked else 0.0


def ruler_results(doc: dict, results: list[str]) -> dict[str, float]:
    from evals.ruler import sample_score

    rec = _record(doc)
    return {"score": sample_score(results[0], rec["outputs"], rec.get("metric", "string_match_all"))}


def code_results(doc: dict, results: list[str]) -> dict[str, float]:
    """HumanEval pass@1 of one greedy completion: the prompt + completion run against the item's
    tests in the RLVR sandbox, never in this process."""
    from runners.rlvr.verifiers import code_reward

    rec = _record(doc)
    program = rec["prompt"] + results[0]
    tests = rec["test"] + f"\ncheck({rec['entry_point']})\n"
    # NOTE: code_reward takes the completion's last fenced block, or its whole text when unfenced
    return {"pass_at_1": code_reward(program, tests, mode="all")}


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0
