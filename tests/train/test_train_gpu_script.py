"""The prepared GPU benchmark (benchmarks/gpu/fsdp_mfu.py): its FLOPs formula is the planner's, and its
CPU smoke mode runs here, so that the first run on a GPU machine is not also its first run."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest
from train_helpers import REPO, runner_env

from olmospec.arch import flops_per_token
from olmospec.ir.model import ModelConfig

SCRIPT = REPO / "benchmarks" / "gpu" / "fsdp_mfu.py"


def _script():
    spec = importlib.util.spec_from_file_location("fsdp_mfu", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("shape", ["GPU_SHAPE", "SMOKE_SHAPE"])
def test_flops_formula_matches_olmospec_arch(shape):
    mod = _script()
    s = getattr(mod, shape)
    cfg = ModelConfig(
        name="b",
        d_model=s["d_model"],
        n_layers=s["n_layers"],
        n_heads=s["n_heads"],
        n_kv_heads=s["n_kv_heads"],
        mlp_hidden=s["mlp_hidden"],
        vocab_size=s["vocab"],
        attention_pattern=(s["window"],) * 3 + (None,),
    )
    assert mod.flops_per_token(s) == flops_per_token(cfg, s["seq_len"])


@pytest.mark.slow
def test_smoke_mode_runs_on_cpu():
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        check=False,
        cwd=REPO,
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout)
    assert out["device"] == "cpu" and out["tokens_per_s"] > 0 and out["mfu"] is None
