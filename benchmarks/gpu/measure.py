"""The benchmark's arithmetic: the matmul peak, steady-state throughput from the runner's step log,
MFU, and a FLOPs cross-check of the planner's formula against the model the runner really builds.

- `matmul_peak`: a large square matrix product, timed with CUDA events after warm-up (median of
  `iters`); on a CPU (the smoke mode) an fp32 product timed with the wall clock, so the same code
  path runs there too.
- `steady`: the runner writes one row per optimizer step to `runs/<id>/plots/train.csv` (tokens/s
  timed around the step, the device synchronised by the loss and grad-norm reads). The first
  `warmup` rows hold compilation and allocation and are left out; the rest give tokens/s as total
  tokens over total time.
- `flops_check`: `olmospec.arch.flops_per_token` (the planner's formula, which the runner also uses
  for its MFU column) against 6 x the weights of every `nn.Linear` of the transformers model built
  on meta from the stage's own config, plus the attention term from that model's layer types and
  window.
"""

from __future__ import annotations

import csv
import statistics
import time
from pathlib import Path

import torch


def matmul_peak(device: torch.device, n: int = 8192, warmup: int = 3, iters: int = 20) -> dict:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    b = torch.randn(n, n, device=device, dtype=dtype, generator=g)
    for _ in range(warmup):
        a @ b
    times = []
    for _ in range(iters):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            a @ b
            end.record()
            end.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t = time.perf_counter()
            a @ b
            times.append(time.perf_counter() - t)
    med = statistics.median(times)
    del a, b
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return {"n": n, "dtype": str(dtype).removeprefix("torch."), "iters": iters, "median_s": med,
            "flops": 2 * n**3 / med, "spread": [min(times), max(times)]}


def step_rows(csv_path: Path) -> list[dict]:
    if not csv_path.exists():
        return []
    with csv_path.open() as f:
        return list(csv.DictReader(f))


def steady(rows: list[dict], warmup: int) -> dict | None:
    """Throughput of the rows after `warmup`; None when there are none."""
    timed = rows[warmup:]
    if not timed:
        return None
    tokens_per_step = float(rows[0]["tokens"]) / float(rows[0]["step"])
    secs = [tokens_per_step / float(r["tokens_per_s"]) for r in timed]
    tps = [float(r["tokens_per_s"]) for r in timed]
    return {
        "steps_timed": len(timed), "warmup_steps": warmup, "tokens_per_step": int(tokens_per_step),
        "tokens_per_s": tokens_per_step * len(timed) / sum(secs), "step_s_median": statistics.median(secs),
        "tokens_per_s_min": min(tps), "tokens_per_s_max": max(tps),
        "first_step_s": tokens_per_step / float(rows[0]["tokens_per_s"]),
        "peak_mem_gib": max(float(r["peak_mem_mb"]) for r in rows) / 1024,
        "loss_first": float(rows[0]["loss"]), "loss_last": float(rows[-1]["loss"]),
    }


def mfu(tokens_per_s: float, flops_per_token: float, peak: float | None) -> float | None:
    return tokens_per_s * flops_per_token / peak if peak else None


def flops_check(config_path: Path) -> dict:
    """The planner's FLOPs per token for a train stage, and the same count from the built model."""
    from olmospec.arch import GPU_PEAK_BF16_FLOPS, flops_per_token, matmul_param_count, param_count
    from olmospec.ir.train import TrainConfig
    from olmospec.stage_io import read_stage_config
    from runners.train.model import SLIDING, build_meta, hf_config

    cfg = TrainConfig.model_validate(read_stage_config(config_path))
    hf = hf_config(cfg.model, eos_id=0, pad_id=None, max_positions=cfg.seq_len, yarn=cfg.yarn)
    model = build_meta(hf)
    linear = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    head_dim = hf.hidden_size // hf.num_attention_heads
    ctx = [min(hf.sliding_window, cfg.seq_len) if t == SLIDING else cfg.seq_len for t in hf.layer_types]
    built = 6 * linear + sum(12 * hf.num_attention_heads * head_dim * c for c in ctx)
    planner = flops_per_token(cfg.model, cfg.seq_len)
    return {
        "flops_per_token": planner, "flops_per_token_built_model": built, "agree": planner == built,
        "matmul_params": matmul_param_count(cfg.model), "matmul_params_built_model": linear,
        "params": param_count(cfg.model), "params_built_model": sum(p.numel() for p in model.parameters()),
        "seq_len": cfg.seq_len, "layers": cfg.model.n_layers, "datasheet_peaks": GPU_PEAK_BF16_FLOPS,
    }
