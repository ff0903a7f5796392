"""Each `optimizer adamw { ... }` setting changes the weights a few training steps produce (the lr
and the schedule have tests of their own in test_train_optim.py): betas and eps go to AdamW, clip
bounds the gradient norm before each update, z_loss adds its term to the loss, weight_decay pulls
the decayed matrices towards zero."""

from __future__ import annotations

import pytest
import torch
from train_helpers import make_config

from olmospec.ir.train import OptimizerConfig
from runners.train.launch import setup
from runners.train.loop import Stage

BASE = OptimizerConfig(lr=3e-3, z_loss=1e-4)


def _weights(tmp_path, tokenizer_dir, shards, opt: OptimizerConfig) -> dict[str, torch.Tensor]:
    cfg = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)], optimizer=opt)
    stage = Stage(cfg, setup(cfg.runtime))
    for step in range(3):
        stage.train_step(step)
    return {k: v.detach().clone() for k, v in stage.model.state_dict().items()}


@pytest.mark.parametrize(
    "change",
    [{"betas": (0.5, 0.9)}, {"eps": 1e-2}, {"clip": 1e-3}, {"z_loss": 1.0}, {"weight_decay": 0.9}],
    ids=lambda c: next(iter(c)),
)
def test_each_optimizer_setting_changes_the_weights(change, tmp_path, tokenizer_dir, shards):
    base = _weights(tmp_path / "base", tokenizer_dir, shards, BASE)
    again = _weights(tmp_path / "again", tokenizer_dir, shards, BASE)
    other = _weights(tmp_path / "other", tokenizer_dir, shards, BASE.model_copy(update=change))
    assert all(torch.equal(base[k], again[k]) for k in base)  # deterministic: only the setting differs
    assert any(not torch.equal(base[k], other[k]) for k in base)
