"""Backend choice: the HF backend on the CPU, vLLM on a GPU where the vllm package imports; the seed
reaches vLLM's engine and every request (lm-eval's own seed does not). The GPU run is skipped where
vllm cannot be imported (it cannot be installed on the CPU machines)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.harness import choose_backend, model_args

ROOT = Path(__file__).resolve().parents[2]


def test_auto_is_hf_on_cpu_and_vllm_without_a_gpu_is_a_clear_error():
    assert choose_backend("auto", "cpu").name == "hf"
    with pytest.raises(ValueError, match="vllm backend needs a GPU"):
        choose_backend("vllm", "cpu")
    b = choose_backend("auto", "cpu")
    assert model_args("runs/x/hf", b, seed=3) == {"pretrained": "runs/x/hf", "dtype": "float32"}


def test_vllm_model_args_carry_the_seed():
    from evals.harness import Backend

    args = model_args("runs/x/hf", Backend("vllm", "cuda"), seed=7, gpus=2)
    assert args["seed"] == 7 and args["tensor_parallel_size"] == 2


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed (GPU machines only)")
def test_vllm_eval_stage_matches_itself_for_a_seed(tmp_path):
    import torch
    from tiny_export import export_tiny_model

    if not torch.cuda.is_available():
        pytest.skip("no GPU")
    model = export_tiny_model(tmp_path / "hf", chat=True)
    task = {"name": "math", "type": "generate", "path": str(ROOT / "specs/data/tiny/evals/math.jsonl"),
            "metric": "exact_match", "lm_eval": None, "dataset": None, "limit": 16, "max_response": 16,
            "temperature": 1.0}
    outs = []
    for name in ("a", "b"):
        cfg = {"eval": "chat", "stage": "sft", "model": str(model), "output": str(tmp_path / name),
               "stage_id": f"eval-{name}", "seed": 5, "batch": 8, "tasks": [task]}
        (tmp_path / f"{name}.json").write_text(json.dumps(cfg))
        (tmp_path / f"{name}.runtime.json").write_text(json.dumps({"device": "cuda", "backend": "vllm"}))
        r = subprocess.run([sys.executable, "-m", "runners.eval", "--config", str(tmp_path / f"{name}.json")],
                           cwd=ROOT, capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr[-3000:]
        assert json.loads((tmp_path / name / "metrics.json").read_text())["backend"] == "vllm"
        outs.append((tmp_path / name / "samples" / "math.jsonl").read_text())
    assert [json.loads(x)["resps"] for x in outs[0].splitlines()] == [json.loads(x)["resps"] for x in outs[1].splitlines()]
