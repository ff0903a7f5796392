"""Training-step throughput of the runner against a plain PyTorch loop, measured in the same run.

    .venv/bin/python -m pytest benchmarks/bench_train.py -s

Both sides train the same Olmo3 model (hidden 128, 4 layers [3 sliding + 1 full], seq 256, batch 16,
the tiny flow's shape) with the same AdamW groups and clipping, one process, fp32 on CPU. The runner's
step adds what a real stage needs: reading token shards and mixing sources, the lr schedule, summed
losses with z-loss and a global token count. The baseline feeds pre-made tensors to a bare
forward/backward/step. Goal: the runner's overhead is at most 10% on CPU.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))

from timing import alternating_medians, plain_update
from train_helpers import build_tokenizer, write_shard

from olmospec.ir.model import ModelConfig
from olmospec.ir.train import (
    DataComponent,
    OptimizerConfig,
    ScheduleConfig,
    TrainConfig,
    TrainRuntime,
)

SEQ, BATCH, STEPS = 256, 16, 6
MODEL = ModelConfig(
    name="bench",
    d_model=128,
    n_layers=4,
    n_heads=4,
    n_kv_heads=4,
    mlp_hidden=384,
    vocab_size=300,
    vocab_pad_to=64,
    attention_pattern=(64, 64, 64, None),
)


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    from runners.train.launch import setup
    from runners.train.loop import Stage

    root = tmp_path_factory.mktemp("bench")
    tok = build_tokenizer(root / "tok")
    rng = np.random.default_rng(0)
    docs = [rng.integers(2, 300, size=int(n)).tolist() for n in rng.integers(50, 400, size=2000)]
    shard = write_shard(root / "shard", docs, eos_id=1, vocab_size=300)
    cfg = TrainConfig(
        stage_id="bench",
        kind="pretrain",
        model=MODEL,
        tokenizer=str(tok),
        data=(
            DataComponent(name="a", path=str(shard), share=0.5),
            DataComponent(name="b", path=str(shard), share=0.5),
        ),
        seq_len=SEQ,
        batch_seqs=BATCH,
        steps=1000,
        optimizer=OptimizerConfig(lr=1e-3, z_loss=1e-5),
        schedule=ScheduleConfig(kind="cosine", warmup_steps=10),
        output=str(root / "out"),
        runtime=TrainRuntime(device="cpu", threads=2),
    )
    return Stage(cfg, setup(cfg.runtime))


def plain_loop(stage):
    """The same model, optimizer and clipping in the plainest loop (fresh weights from the same init)."""
    from runners.train.model import build_meta, init_weights, materialize
    from runners.train.optim import build_optimizer

    model = materialize(build_meta(stage.hf), "cpu")
    init_weights(model, MODEL.init_std, 0)
    model.train()
    opt = build_optimizer(model, stage.config.optimizer)
    g = torch.Generator().manual_seed(0)
    data = torch.randint(0, 300, (8, BATCH, SEQ + 1), generator=g)

    def step(i: int) -> float:
        x, y = data[i % 8, :, :-1], data[i % 8, :, 1:]
        logits = model(input_ids=x, use_cache=False).logits
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.shape[-1]), y.reshape(-1))
        return plain_update(model, opt, loss)

    return step


@pytest.mark.benchmark(group="train-step-cpu")
def test_runner_train_step(benchmark, stage):
    counter = iter(range(10**6))
    benchmark.pedantic(lambda: stage.train_step(next(counter)), rounds=STEPS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["tokens_per_s"] = BATCH * SEQ / benchmark.stats.stats.mean


@pytest.mark.benchmark(group="train-step-cpu")
def test_plain_pytorch_step(benchmark, stage):
    step = plain_loop(stage)
    counter = iter(range(10**6))
    benchmark.pedantic(lambda: step(next(counter)), rounds=STEPS, iterations=1, warmup_rounds=1)
    benchmark.extra_info["tokens_per_s"] = BATCH * SEQ / benchmark.stats.stats.mean


def test_runner_overhead_at_most_10_percent(stage):
    """Steps alternate runner / plain, so drift in machine load (2 shared cores) hits both sides; the
    medians of 8 steps each are compared."""
    r, b = alternating_medians(stage.train_step, plain_loop(stage))
    overhead = r / b - 1
    tok = BATCH * SEQ
    print(f"\nrunner {tok / r:.0f} tok/s, plain PyTorch {tok / b:.0f} tok/s, overhead {overhead:+.1%}")
    assert overhead <= 0.10
