"""Synthetic eval outputs for report tests: `runs/<id>/metrics.json` and `scores.json` in the eval
stage's format, for variants x seeds whose per-item scores are drawn around a chosen accuracy, and
the report-stage config that lists them (the shape `olmospec compile` writes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

N_ITEMS = 300


def write_eval(root: Path, eval_id: str, accuracy: float, seed: int, contamination: dict | None = None,
               ruler: dict[str, float] | None = None) -> dict:
    rng = np.random.default_rng(seed)
    scores = (rng.random(N_ITEMS) < accuracy).astype(float).tolist()
    d = root / "runs" / eval_id
    d.mkdir(parents=True, exist_ok=True)
    ids = [f"math-{i:04d}" for i in range(N_ITEMS)]
    metrics = {"tasks": {"math": {"metric": "exact_match", "value": float(np.mean(scores)),
                                  "exact_match": float(np.mean(scores)), "n": N_ITEMS}},
               "contamination": contamination or {}, "backend": "hf", "device": "cpu", "batch": 8}
    score_file = {"math": {"ids": ids, "exact_match": scores}}
    if ruler:
        metrics["ruler"] = {"by_length": ruler, "tasks": {}, "average": float(np.mean(list(ruler.values())))}
        for length, value in ruler.items():
            score_file[f"ruler_niah_single_1_{length}"] = {"ids": [f"s{i}" for i in range(20)],
                                                           "score": [value] * 20}
    (d / "metrics.json").write_text(json.dumps(metrics))
    (d / "scores.json").write_text(json.dumps(score_file))
    return {"id": eval_id, "dir": f"runs/{eval_id}", "stage": "sft", "kind": "sft", "eval": "chat",
            "columns": ["math"] + [f"ruler@{n}" for n in (ruler or {})]}


def report_config(root: Path, arms: dict[str, list[float]], *, seeds=(1, 2, 3), contaminated: str | None = None,
                  ruler: bool = False) -> dict:
    """`arms`: variant -> per-seed accuracies. The first arm is the baseline."""
    rows = []
    for k, (name, accs) in enumerate(arms.items()):
        for s, acc in zip(seeds, accs, strict=True):
            cont = {"math": {"pretrain": {"items": N_ITEMS, "items_found": 12}}} if name == contaminated else None
            lengths = {"512": 40.0 + 10 * k + s, "1024": 20.0 + 10 * k + s} if ruler else None
            ev = write_eval(root, f"eval-chat-sft-{name}-{s}", acc, seed=1000 * k + s, contamination=cont,
                            ruler=lengths)
            rows.append({"variant": f"{name}@seed{s}", "group": name, "kind": "base" if k == 0 else "ablation",
                         "seed": s, "evals": [ev], "stages": []})
    columns = ["math"] + (["ruler@1024"] if ruler else [])
    return {"report": {"name": "main", "rows": "variants", "columns": columns, "baseline": next(iter(arms)),
                       "format": ["markdown", "latex", "html", "csv"]},
            "rows": rows, "stage_order": ["sft"], "spec": "flow.ospec"}


def write_scores(root: Path, eval_id: str, stage: str, scores: dict[str, list[float]], *, metric: str = "exact_match",
                 found: list[str] = (), answer_seen: list[str] = ()) -> dict:
    """An eval of task `math` at `stage` with the given per-item scores (`{metric: [...], ...}`, items
    math-0000...), and a contamination.json naming the items found in its model's training data."""
    n = len(next(iter(scores.values())))
    ids = [f"math-{i:04d}" for i in range(n)]
    d = root / "runs" / eval_id
    d.mkdir(parents=True, exist_ok=True)
    task = {"metric": metric, "value": float(np.mean(scores[metric])), "n": n}
    task |= {k: float(np.mean(v)) for k, v in scores.items()}
    checks = {"pretrain": {"items": n, "items_found": len(found), "answer_seen": len(answer_seen)}} if found else {}
    (d / "metrics.json").write_text(json.dumps({"tasks": {"math": task}, "contamination": {"math": checks}}))
    (d / "scores.json").write_text(json.dumps({"math": {"ids": ids, **scores}}))
    (d / "contamination.json").write_text(json.dumps(
        {"math": {"pretrain": {"found": list(found), "answer_seen": list(answer_seen)}}}))
    return {"id": eval_id, "dir": f"runs/{eval_id}", "stage": stage, "kind": stage, "eval": "suite",
            "columns": ["math"]}


def findings_config(rows: list[dict], findings: list[dict]) -> dict:
    return {"report": {"name": "findings", "rows": "findings", "columns": [], "baseline": "base",
                       "format": ["markdown", "latex", "html", "csv"], "findings": findings},
            "rows": rows, "stage_order": ["pretrain", "sft"], "spec": "flow.ospec"}


def finding(name: str, measure: tuple[str, str], against: tuple[str, str], expect: str, **kw) -> dict:
    return {"name": name, "claim": f"claim {name}", "source": "a public source, section 1", "task": "math",
            "metric": None, "items": "all", "expect": expect,
            "measure": {"variant": measure[0], "stage": measure[1]},
            "against": {"variant": against[0], "stage": against[1]}, **kw}
