"""lm-eval task configurations for the spec's local tasks, written as YAML files lm-eval reads itself.

The eval stage writes one YAML per task into `runs/<eval>/tasks/` and runs lm-eval on that folder,
so what ran can be rerun by hand with lm-eval's own command line, from the project root:

    lm-eval run --model hf --model_args pretrained=runs/<stage>/hf,dtype=float32 --device cpu \\
        --include_path runs/<eval>/tasks --tasks math,ifeval --batch_size 8 --seed 0,0,0,0

Data is read by `evals.tasks.loaders.load` (lm-eval's `custom_dataset`), scored by the functions in
`evals.tasks.scoring`. Prompts: a model whose tokenizer has a chat template gets the question as a
user turn and answers until its end-of-turn token; a base model continues "QUESTION\\nAnswer:" to
the end of the line, as the pretraining math documents are written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# module names as exact strings: the compiler's code-dependency scan (olmospec/codedeps.py) counts them
LOADERS = "evals.tasks.loaders"
SCORING = "evals.tasks.scoring"
LOADER = f"{LOADERS}.load"
DEFAULT_MAX_TOKENS = {"generate": 64, "ifeval": 128, "code": 384}
GOLD = "__gold"  # suffix of a generate task's companion that scores its gold answer's log-likelihood
CODE_STOPS = ["\nclass", "\ndef", "\n#", "\nif", "\nprint"]  # HumanEval's stop sequences


@dataclass(frozen=True)
class Fn:
    """A `!function module.name` reference in lm-eval YAML."""

    name: str


def _gen_kwargs(task: dict, until: list[str]) -> dict[str, Any]:
    temperature = task.get("temperature") or 0.0
    out: dict[str, Any] = {"until": until, "max_gen_toks": task.get("max_response") or DEFAULT_MAX_TOKENS[task["kind"]],
                           "do_sample": temperature > 0, "temperature": temperature}
    if temperature > 0 and task.get("top_p") is not None:
        out["top_p"] = task["top_p"]
    return out


def task_config(task: dict, data: str, chat: bool) -> dict[str, Any]:
    """The lm-eval config of one spec task; `task["kind"]` is generate | multiple_choice | ifeval |
    ruler | code | gold (a generate task's gold-answer log-likelihood), `data` the JSONL file
    (relative to the project root)."""
    kind = task["kind"]
    prefix = "" if chat or kind != "generate" else "Answer:"
    cfg: dict[str, Any] = {
        "task": task["name"], "custom_dataset": Fn(LOADER), "test_split": "test",
        "dataset_kwargs": {"path": data, "kind": "generate" if kind == "gold" else kind, "limit": task.get("limit"),
                           "answer_prefix": prefix},
        "doc_to_target": "target", "metadata": {"version": 1},
    }
    if kind == "gold":
        # log p(" ANSWER" | "QUESTION\nAnswer:"): the base prompt, continued as the pretraining math
        # documents write an answer (lm-eval adds no delimiter to a loglikelihood target)
        return {**cfg, "output_type": "loglikelihood", "doc_to_text": "{{question}}\nAnswer:",
                "doc_to_target": " {{target}}",
                "process_results": Fn(f"{SCORING}.gold_results"), "metric_list": [_mean("gold_logprob")]}
    if kind == "multiple_choice":
        return {**cfg, "output_type": "multiple_choice", "doc_to_text": "Question: {{question}}\nAnswer:",
                "doc_to_choice": "choices", "doc_to_target": "label",
                "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}]}
    cfg["output_type"] = "generate_until"
    if kind == "generate":
        text = "{{question}}" if chat else "{{question}}\nAnswer:"
        return {**cfg, "doc_to_text": text, "generation_kwargs": _gen_kwargs(task, [] if chat else ["\n"]),
                "process_results": Fn(f"{SCORING}.math_results"),
                "metric_list": [_mean("exact_match")]}
    if kind == "ifeval":
        return {**cfg, "doc_to_text": "{{question}}", "generation_kwargs": _gen_kwargs(task, []),
                "process_results": Fn(f"{SCORING}.ifeval_results"),
                "metric_list": [_mean("prompt_level_strict_acc"),
                                {"metric": "inst_level_strict_acc",
                                 "aggregation": Fn(f"{SCORING}.instruction_mean"), "higher_is_better": True}]}
    if kind == "ruler":
        return {**cfg, "doc_to_text": "{{question}}",
                "generation_kwargs": {"until": [], "max_gen_toks": task["max_response"], "do_sample": False,
                                      "temperature": 0.0},
                "process_results": Fn(f"{SCORING}.ruler_results"), "metric_list": [_mean("score")]}
    if kind == "code":
        return {**cfg, "doc_to_text": "{{question}}", "generation_kwargs": _gen_kwargs(task, CODE_STOPS),
                "process_results": Fn(f"{SCORING}.code_results"), "metric_list": [_mean("pass_at_1")]}
    raise ValueError(f"task {task['name']!r}: no local lm-eval task for type {kind!r}")


def _mean(metric: str) -> dict[str, Any]:
    return {"metric": metric, "aggregation": Fn(f"{SCORING}.mean"), "higher_is_better": True}


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(Fn, lambda d, f: d.represent_scalar("!function", f.name))


def write_task_yaml(cfg: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{cfg['task']}.yaml"
    path.write_text(yaml.dump(cfg, Dumper=_Dumper, sort_keys=True, width=1000, allow_unicode=True), encoding="utf-8")
    return path
