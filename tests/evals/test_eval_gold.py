"""The gold answer's log-likelihood (`gold_logprob`), the metric a 1.4M-parameter model's findings are
measured on: for a multiple-choice item, the log-likelihood lm-eval gave its correct choice; for a
generate item on a base model, log p(" ANSWER" | "QUESTION\\nAnswer:"), checked here against the
model's own forward pass; never on a chat model, whose answers do not start with the bare number."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVALS = ROOT / "specs/data/tiny/evals"


def _run_eval(tmp: Path, model: Path, name: str) -> dict:
    tasks = [{"name": "math", "type": "generate", "path": str(EVALS / "math.jsonl"), "metric": "exact_match",
              "lm_eval": None, "dataset": None, "limit": 6, "max_response": 4},
             {"name": "mc", "type": "multiple_choice", "path": str(EVALS / "mc.jsonl"), "metric": "acc",
              "lm_eval": None, "dataset": None, "limit": 6}]
    cfg = {"eval": "suite", "stage": "pretrain", "model": str(model), "output": str(tmp / name),
           "stage_id": f"eval-{name}", "seed": 0, "batch": 4, "contamination": "off", "tasks": tasks}
    (tmp / f"{name}.json").write_text(json.dumps(cfg))
    (tmp / f"{name}.runtime.json").write_text(json.dumps({"device": "cpu", "threads": 1}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    r = subprocess.run([sys.executable, "-m", "runners.eval", "--config", str(tmp / f"{name}.json")], cwd=ROOT,
                       env=env, capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    return {"metrics": json.loads((tmp / name / "metrics.json").read_text()),
            "scores": json.loads((tmp / name / "scores.json").read_text())}


def _logprob(model, tok, context: str, continuation: str) -> float:
    """Sum of log p(continuation tokens | context), tokenized as lm-eval's HF model does."""
    import torch

    whole = tok(context + continuation)["input_ids"]
    n_ctx = len(tok(context)["input_ids"])
    with torch.no_grad():
        logits = model(torch.tensor([whole])).logits[0].log_softmax(-1)
    return float(sum(logits[i - 1, whole[i]] for i in range(n_ctx, len(whole))))


@pytest.mark.slow
def test_gold_logprob_is_the_models_log_likelihood_of_the_gold_answer_on_base_models_only(tmp_path):
    from tiny_export import export_tiny_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = export_tiny_model(tmp_path / "base", chat=False)
    out = _run_eval(tmp_path, base, "base")
    scores, metrics = out["scores"], out["metrics"]["tasks"]
    model = AutoModelForCausalLM.from_pretrained(base, dtype="float32").eval()
    tok = AutoTokenizer.from_pretrained(base)
    items = [json.loads(x) for x in (EVALS / "math.jsonl").read_text().splitlines()[:6]]
    mine = [_logprob(model, tok, f"{r['question']}\nAnswer:", f" {r['answer']}") for r in items]
    assert scores["math"]["ids"] == [r["id"] for r in items]
    assert scores["math"]["gold_logprob"] == pytest.approx(mine, abs=1e-4)
    assert metrics["math"]["gold_logprob"] == pytest.approx(sum(mine) / 6, abs=1e-4)
    mc = [json.loads(x) for x in (EVALS / "mc.jsonl").read_text().splitlines()[:6]]
    gold = [_logprob(model, tok, f"Question: {r['question']}\nAnswer:", f" {r['choices'][r['label']]}") for r in mc]
    assert scores["mc"]["gold_logprob"] == pytest.approx(gold, abs=1e-4)
    assert metrics["mc"]["value"] == metrics["mc"]["acc"]  # the task's own metric is unchanged

    chat = _run_eval(tmp_path, export_tiny_model(tmp_path / "chat", chat=True), "chat")
    assert "gold_logprob" not in chat["scores"]["math"] and "gold_logprob" in chat["scores"]["mc"]
    assert not (tmp_path / "chat/tasks/math__gold.yaml").exists() and (tmp_path / "base/tasks/math__gold.yaml").exists()
