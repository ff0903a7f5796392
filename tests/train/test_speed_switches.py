"""The training runner's speed switches (runtime settings, never identity): each reaches the model,
optimizer or FSDP2 as the receipt reports it, and none changes the numbers beyond float rounding.
`attention_impl`, `fused_optimizer`, `reshard_after_forward` and `fsdp_prefetch` are what the GPU
benchmark flips in its tuned run (benchmarks/gpu/README.md); these tests are their CPU checks."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from dvc_repo import make_repo, repro, run_dir, word_docs
from test_runtime_settings import spec
from train_helpers import make_config

from runners.train.errors import StageError
from runners.train.launch import setup
from runners.train.loop import Stage


def _steps(cfg, n=3):
    stage = Stage(cfg, setup(cfg.runtime))
    losses = [stage.train_step(s)["loss"] for s in range(n)]
    return stage, losses, {k: p.detach().clone() for k, p in stage.model.named_parameters()}


def test_fused_adamw_and_eager_attention_train_like_the_defaults(tmp_path, tokenizer_dir, shards):
    base = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)])
    ref_stage, ref_loss, ref_w = _steps(base)
    assert ref_stage.effective_runtime()["attention_impl"] == "sdpa"
    assert ref_stage.effective_runtime()["fused_optimizer"] is False
    cfg = base.model_copy(update={"runtime": base.runtime.model_copy(
        update={"fused_optimizer": True, "attention_impl": "eager"})})
    stage, loss, w = _steps(cfg)
    eff = stage.effective_runtime()
    assert eff["attention_impl"] == "eager" and eff["fused_optimizer"] is True
    assert stage.optimizer.defaults["fused"] is True
    assert loss == pytest.approx(ref_loss, abs=1e-5)
    assert max((w[k] - ref_w[k]).abs().max().item() for k in w) < 1e-4


def test_flex_attention_keeps_the_sliding_window(tmp_path, tokenizer_dir, shards):
    """Same weights, same logits: flex_attention masks exactly what sdpa's dense sliding mask does.
    NOTE: PyTorch's flex_attention has no backward on CPU, so training with it is checked on GPUs
    only (the benchmark's tuned run); here the forward pass is compared."""
    base = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)], seq_len=64)
    assert base.model.layer_windows()[0] == 16  # a window shorter than the sequence
    flex = base.model_copy(update={"runtime": base.runtime.model_copy(update={"attention_impl": "flex_attention"})})
    logits = {}
    for name, cfg in (("sdpa", base), ("flex", flex)):
        stage = Stage(cfg, setup(cfg.runtime))
        batch = stage.batch(0)
        with torch.no_grad():
            logits[name] = stage.model(input_ids=batch.inputs, use_cache=False).logits
        assert stage.effective_runtime()["attention_impl"] == ("flex_attention" if name == "flex" else "sdpa")
    assert torch.allclose(logits["flex"], logits["sdpa"], atol=1e-4)
    with pytest.raises(StageError, match="flex_attention cannot take"):
        masked = flex.model_copy(update={"doc_mask": True})
        Stage(masked, setup(masked.runtime))


@pytest.mark.slow
def test_fsdp_switches_reach_two_ranks_under_dvc_repro(tmp_path):
    data = {"data/text.jsonl": word_docs()}
    tuned = make_repo(tmp_path / "tuned", spec("device = cpu  procs_per_node = 2  threads = 1  "
                                                      "reshard_after_forward = false  fsdp_prefetch = 1  fused_optimizer = true"), data)
    plain = make_repo(tmp_path / "plain", spec("device = cpu  procs_per_node = 2  threads = 1"), data)
    repro(tuned)
    repro(plain)
    a, b = run_dir(tuned, "pretrain-"), run_dir(plain, "pretrain-")
    assert a.name == b.name  # runtime, not identity
    ra = json.loads((a / "receipt.json").read_text())["runtime"]
    rb = json.loads((b / "receipt.json").read_text())["runtime"]
    assert ra["fsdp_settings"] == {"reshard_after_forward": False, "prefetch": 1} and ra["fused_optimizer"] is True
    assert rb["fsdp_settings"] == {"reshard_after_forward": True, "prefetch": 0} and rb["fused_optimizer"] is False
    from safetensors.torch import load_file

    wa, wb = load_file(str(a / "hf/model.safetensors")), load_file(str(b / "hf/model.safetensors"))
    assert max(float((wa[k] - wb[k]).abs().max()) for k in wa) < 1e-4


def test_a_misspelt_attention_kernel_is_a_spec_error(tmp_path):
    path = tmp_path / "s.ospec"
    path.write_text(spec("attention_impl = flash_attention"))
    (tmp_path / "data").mkdir()
    (tmp_path / "data/text.jsonl").write_text(word_docs(5))
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(path)], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "expected one of sdpa, flex_attention, eager" in r.stdout + r.stderr
    assert "s.ospec:" in r.stdout + r.stderr
