"""A task's sampling settings reach the lm-eval config the eval stage writes for it: temperature,
top_p (when sampling) and max_response for a generated answer; a greedy task never samples."""

from __future__ import annotations

from evals.tasks.configs import task_config


def _gen(**settings) -> dict:
    task = {"name": "math", "kind": "generate", "limit": None, **settings}
    return task_config(task, "math.jsonl", chat=False)["generation_kwargs"]


def test_sampling_settings_reach_the_lm_eval_config():
    greedy = _gen()
    assert greedy["do_sample"] is False and greedy["temperature"] == 0.0 and "top_p" not in greedy
    sampled = _gen(temperature=0.6, top_p=0.9, max_response=48)
    assert sampled["do_sample"] is True and sampled["temperature"] == 0.6 and sampled["top_p"] == 0.9
    assert sampled["max_gen_toks"] == 48 and greedy["max_gen_toks"] != 48
