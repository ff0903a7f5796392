"""The DPO stage's train step against a plain PyTorch DPO loop on the same model and batch, measured in
the same run.

    .venv/bin/python -m pytest benchmarks/bench_dpo.py -s

Both sides start from the same weights (the tiny flow's shape: hidden 128, 4 layers [3 sliding +
1 full], vocabulary 2048, fp32 on CPU, one process) with the same AdamW groups and clipping, on
batches of 16 pairs (chosen and rejected sides of 96-224 tokens, prompts of 24-40). The stage's step
(runners/dpo/stage.py) also picks the batch from the epoch order, pads, masks prompts, normalises
by length (dpo_norm), schedules the lr and computes rewards and accuracy. The baseline stacks
pre-made padded tensors, runs one forward, gathers log-probs and takes the sigmoid loss with the
same length normalisation. Goal: the stage's overhead is at most 10%.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "generate"))

from gen_helpers import build_tokenizer
from timing import alternating_medians, plain_update

from olmospec.ir.dpo import DpoConfig
from olmospec.ir.model import ModelConfig
from olmospec.ir.train import OptimizerConfig, ScheduleConfig, TrainRuntime

TINY = ModelConfig(name="tiny", d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, mlp_hidden=384, vocab_size=2048,
                   vocab_pad_to=64, attention_pattern=(64, 64, 64, None))
PAIRS, BATCH, SEQ = 128, 16, 256


def _pairs_file(path: Path) -> Path:
    """A reference stage's pairs.parquet, synthetic: random ids, reference log-probs of 0."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    rows = []
    for i in range(PAIRS):
        p = int(rng.integers(24, 41))
        sides = {s: rng.integers(3, 2048, size=int(rng.integers(96, 225))).tolist() for s in ("chosen", "rejected")}
        rows.append({"id": f"p{i}", "split": "train", "chosen_ids": sides["chosen"], "chosen_start": p,
                     "rejected_ids": sides["rejected"], "rejected_start": p,
                     "chosen_tokens": len(sides["chosen"]) - p, "rejected_tokens": len(sides["rejected"]) - p,
                     "ref_chosen_logp": 0.0, "ref_rejected_logp": 0.0, "ref_chosen_mean": 0.0, "ref_rejected_mean": 0.0,
                     "file": "synthetic", "line": i + 1, "kept_by": []})
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    from runners.dpo.stage import DpoStage
    from runners.train.launch import setup
    from runners.train.model import build_meta, hf_config, init_weights, materialize

    root = tmp_path_factory.mktemp("bench_dpo")
    tok = build_tokenizer(root / "init" / "hf")
    model = materialize(build_meta(hf_config(TINY, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                                             max_positions=SEQ)), "cpu")
    init_weights(model, TINY.init_std, 0)
    model.save_pretrained(root / "init" / "hf")
    cfg = DpoConfig(stage_id="bench", model=TINY, tokenizer=str(root / "init" / "hf"), init_from=str(root / "init"),
                    pairs=str(_pairs_file(root / "pairs.parquet")), loss="dpo_norm", beta=5.0, seq_len=SEQ,
                    batch_seqs=BATCH, epochs=10, optimizer=OptimizerConfig(lr=1e-6, weight_decay=0.0),
                    schedule=ScheduleConfig(kind="linear", warmup_steps=2), output=str(root / "out"),
                    runtime=TrainRuntime(device="cpu", threads=2))
    return DpoStage(cfg, setup(cfg.runtime))


def plain_loop(stage):
    """The same weights, optimizer and batch in the plainest DPO loop."""
    from runners.train.model import build_meta, load_hf_weights, materialize
    from runners.train.optim import build_optimizer

    model = materialize(build_meta(stage.hf), "cpu")
    load_hf_weights(model, Path(stage.config.init_from) / "hf")
    model.train()
    opt = build_optimizer(model, stage.config.optimizer)
    batches = []
    for step in range(8):  # the stage's own batches, made into tensors once
        idx = [stage._pair(step * BATCH + g) for g in range(BATCH)]
        seqs = [stage.train.chosen[i] for i in idx] + [stage.train.rejected[i] for i in idx]
        width = max(len(s) for s, _ in seqs)
        ids = torch.zeros((len(seqs), width), dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.bool)
        for r, (s, start) in enumerate(seqs):
            ids[r, : len(s)] = torch.from_numpy(s)
            mask[r, start : len(s)] = True
        batches.append((ids, mask))

    def step(i: int) -> float:
        ids, mask = batches[i % len(batches)]
        logits = model(input_ids=ids, use_cache=False).logits[:, :-1]
        lp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        m = mask[:, 1:]
        mean = (lp * m).sum(-1) / m.sum(-1)
        loss = -torch.nn.functional.logsigmoid(5.0 * (mean[:BATCH] - mean[BATCH:])).mean()
        return plain_update(model, opt, loss)

    return step


def test_dpo_step_overhead_at_most_10_percent(stage):
    """Steps alternate stage / plain, so drift in machine load hits both sides; medians of 8 each."""
    o, b = alternating_medians(stage.train_step, plain_loop(stage))
    print(f"\nDPO stage step {o * 1000:.0f} ms, plain PyTorch DPO step {b * 1000:.0f} ms, overhead {o / b - 1:+.1%}")
    assert o / b - 1 <= 0.10
