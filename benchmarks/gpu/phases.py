"""The benchmark's phases, each measuring what users run: the compiled stages' own commands (the
training runner, the eval stage) and the project's generation backend.

Every phase returns a dict for the results JSON and never raises for a failed stage: an unattended
GPU run must still report what it measured and why the rest failed (the log tail is kept).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import measure
import pipeline

OLMO_CORE_7B_TOKENS_PER_S = 7700  # OLMo 3 report (arXiv:2512.13961) §2.4: 7B, seq 8192, H100, ~43% MFU


@dataclass(frozen=True)
class Sizes:
    """How much of each phase to run: the GPU run's and the CPU smoke run's differ only here."""

    train_warmup: int  # step-log rows left out of the steady state (compilation, allocation)
    train_deadline_s: float
    block_warmup: int
    block_rows: int  # block_7b is stopped once its log has this many rows
    block_deadline_s: float
    gen_tokens: int  # new tokens per completion
    gen_batch1_prompts: int
    eval_deadline_s: float
    budget_s: float  # the whole run; a phase gets what is left after the reserve of the phases after it


GPU = Sizes(train_warmup=3, train_deadline_s=240, block_warmup=3, block_rows=8, block_deadline_s=220,
            gen_tokens=128, gen_batch1_prompts=3, eval_deadline_s=120, budget_s=540)
SMOKE = Sizes(train_warmup=1, train_deadline_s=300, block_warmup=1, block_rows=3, block_deadline_s=300,
              gen_tokens=4, gen_batch1_prompts=1, eval_deadline_s=300, budget_s=1200)
RESERVE_S = {"train_1b": 300, "block_7b": 90, "eval": 0}  # seconds kept for the phases after


@dataclass
class Context:
    root: Path
    stages: dict[str, pipeline.Stage]
    env: dict[str, str]
    logs: Path
    sizes: Sizes
    peak: float | None  # the measured matmul FLOP/s
    datasheet: tuple[str, float] | None  # (name, FLOP/s) of this device in the planner's table
    ends_at: float = float("inf")  # time.monotonic() by which the whole run should be over

    def deadline(self, cap: float, phase: str) -> float:
        """A phase's time: its cap, or less when the run's budget (minus the later phases') is short."""
        return max(30.0, min(cap, self.ends_at - time.monotonic() - RESERVE_S.get(phase, 0)))


def ensure_inputs(ctx: Context, stage: pipeline.Stage) -> list[str]:
    """Run the upstream stages (tokenizer, manifest, tokenize) whose outputs are missing."""
    ran = []
    for up in pipeline.upstream(ctx.stages, stage):
        if up.kind in ("tokenizer", "manifest", "tokenize", "curate", "mix") and not pipeline.is_done(up, ctx.root):
            r = pipeline.run(up, ctx.root, ctx.env, ctx.logs / f"{up.id}.log", deadline_s=900)
            if r.rc != 0:
                raise RuntimeError(f"{up.id} failed (exit {r.rc}):\n{r.log}")
            ran.append(up.id)
    return ran


def train(ctx: Context, name: str, overrides: dict, *, stop_rows: int | None = None,
          fallback: str | None = None) -> dict:
    """Run a compiled train stage from scratch; its step log gives the steady-state figures."""
    stage = pipeline.find(ctx.stages, name)
    out = _train_once(ctx, stage, overrides, stop_rows)
    if out.get("error") and fallback and ctx.deadline(ctx.sizes.block_deadline_s, name) < ctx.sizes.block_deadline_s:
        out["fallback_skipped"] = "not enough of the run's budget left"
    elif out.get("error") and fallback:  # e.g. out of memory: the variant with fewer layers
        alt = pipeline.find(ctx.stages, name, variant=fallback)
        out = {**_train_once(ctx, alt, overrides, stop_rows), "first_try": out}
    return out


def _train_once(ctx: Context, stage: pipeline.Stage, overrides: dict, stop_rows: int | None) -> dict:
    s = ctx.sizes
    warmup = s.block_warmup if stop_rows else s.train_warmup
    shutil.rmtree(ctx.root / stage.output, ignore_errors=True)  # never resume an earlier run
    ensure_inputs(ctx, stage)
    runtime, before = pipeline.set_runtime(stage, ctx.root, overrides)
    csv_path = ctx.root / stage.output / "plots" / "train.csv"
    try:
        stop = (lambda: len(measure.step_rows(csv_path)) >= stop_rows) if stop_rows else None
        r = pipeline.run(stage, ctx.root, ctx.env, ctx.logs / f"{stage.id}.log",
                         deadline_s=ctx.deadline(s.block_deadline_s if stop_rows else s.train_deadline_s, stage.name),
                         stop=stop)
    finally:
        pipeline.restore_runtime(stage, ctx.root, before)
    out: dict = {"stage": stage.id, "variants": list(stage.variants), "runtime_file": runtime,
                 "overrides": overrides, "wall_s": round(r.seconds, 1), "exit": r.rc, "stopped": r.stopped}
    flops = measure.flops_check(ctx.root / stage.config)
    out["flops"] = flops
    rows = measure.step_rows(csv_path)
    out["steps_logged"] = len(rows)
    st = measure.steady(rows, warmup)
    if st is None or (r.rc not in (0, None)) or (r.stopped == "deadline" and not stop_rows):
        out["error"] = f"exit {r.rc}, stopped: {r.stopped}, {len(rows)} step rows"
        out["log_tail"] = r.log[-6000:]
    if st is not None:
        fpt = flops["flops_per_token"]
        st["mfu_vs_measured_peak"] = measure.mfu(st["tokens_per_s"], fpt, ctx.peak)
        st["mfu_vs_datasheet"] = measure.mfu(st["tokens_per_s"], fpt, ctx.datasheet[1] if ctx.datasheet else None)
        out["steady"] = st
        if stop_rows:
            out["vs_olmo_core"] = _vs_olmo_core(ctx, stage, st)
    metrics, receipt = ctx.root / stage.output / "metrics.json", ctx.root / stage.output / "receipt.json"
    if metrics.exists():  # a run that ended by itself: the runner's own summary and, from its receipt,
        # its speed and effective runtime (metrics.json holds results only)
        m = json.loads(metrics.read_text())
        rec = json.loads(receipt.read_text()) if receipt.exists() else {}
        m |= {"mean_tokens_per_s": rec.get("tokens_per_s"), "mfu": rec.get("mfu"), "runtime": rec.get("runtime"),
              "checkpoint_steps": rec.get("checkpoint_steps")}
        out["runner_metrics"] = {k: m.get(k) for k in ("mean_tokens_per_s", "mfu", "params", "flops_per_token",
                                                       "steps", "final_loss", "runtime", "checkpoint_steps")}
    return out


def _vs_olmo_core(ctx: Context, stage: pipeline.Stage, st: dict) -> dict:
    """The L-layer block run against OLMo-core's 7B: measured tokens/s, and the tokens/s the full
    32-layer 7B would reach at the same MFU (datasheet peak, as the report's MFU is)."""
    from olmospec.arch import flops_per_token
    from olmospec.ir.train import TrainConfig
    from olmospec.stage_io import read_stage_config

    cfg = TrainConfig.model_validate(read_stage_config(ctx.root / stage.config))
    full = flops_per_token(cfg.model.model_copy(update={"n_layers": 32}), cfg.seq_len)
    mfu = st["mfu_vs_datasheet"]
    return {"olmo_core_7b_tokens_per_s": OLMO_CORE_7B_TOKENS_PER_S, "layers": cfg.model.n_layers,
            "measured_tokens_per_s": st["tokens_per_s"],
            "full_7b_tokens_per_s_at_this_mfu": (mfu * ctx.datasheet[1] / full) if mfu else None,
            "full_7b_flops_per_token": full}


def generation(ctx: Context, train_name: str) -> dict:
    """tokens/s of `runners.generate` (the HF backend) on the exported ~1B model, batch 1 and 64."""
    stage = pipeline.find(ctx.stages, train_name)
    hf = ctx.root / stage.output / "hf"
    if not (hf / "config.json").exists():
        return {"error": f"no export at {hf}: the {train_name} phase did not finish"}
    import torch

    from runners.generate import Sampling, generator

    prompts = [json.loads(line)["question"] for line in
               (ctx.root / "specs/data/tiny/evals/mc.jsonl").read_text().splitlines()[:64]]
    sampling = Sampling(temperature=1.0, top_p=1.0, max_new_tokens=ctx.sizes.gen_tokens, seed=0)
    t0 = time.perf_counter()
    gen = generator(str(hf), backend="hf", batch_size=64)
    out: dict = {"model": str(hf.relative_to(ctx.root)), "backend": "hf", "device": str(gen.device),
                 "dtype": str(next(gen.model.parameters()).dtype).removeprefix("torch."),
                 "load_s": round(time.perf_counter() - t0, 2), "sampling": dataclasses.asdict(sampling)}
    gen.generate(prompts[:2], Sampling(max_new_tokens=4), progress=False)  # warm-up: kernels, handles
    for label, n_prompts, batch in (("batch_1", ctx.sizes.gen_batch1_prompts, 1), ("batch_64", 64, 64)):
        gen.batch_size = batch
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        res = gen.generate(prompts[:n_prompts], sampling, progress=False)
        out[label] = {"prompts": n_prompts, **res.stats()}
    return out


def evaluation(ctx: Context, eval_name: str) -> dict:
    """The compiled eval stage on the ~1B export: that it runs, where, and what it scored."""
    stage = pipeline.find(ctx.stages, eval_name)
    shutil.rmtree(ctx.root / stage.output, ignore_errors=True)
    r = pipeline.run(stage, ctx.root, ctx.env, ctx.logs / f"{stage.id}.log",
                     deadline_s=ctx.deadline(ctx.sizes.eval_deadline_s, "eval"))
    out: dict = {"stage": stage.id, "exit": r.rc, "stopped": r.stopped, "wall_s": round(r.seconds, 1)}
    metrics = ctx.root / stage.output / "metrics.json"
    if r.rc == 0 and metrics.exists():
        m = json.loads(metrics.read_text())
        out.update({k: m.get(k) for k in ("device", "backend", "batch", "tasks", "seconds")})
    else:
        out["error"] = f"exit {r.rc}, stopped: {r.stopped}"
        out["log_tail"] = r.log[-6000:]
    return out
