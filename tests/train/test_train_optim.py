"""Learning-rate schedules, weight-decay groups and the loss (cross-entropy + z-loss)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from train_helpers import tiny_model

from olmospec.ir.train import ScheduleConfig
from runners.train.data import IGNORE
from runners.train.model import build_meta, hf_config
from runners.train.optim import loss_sums, lr_at, param_groups


def sched(kind, **kw):
    return ScheduleConfig(kind=kind, **kw)


def test_cosine_warms_up_then_ends_at_final():
    s = sched("cosine", warmup_steps=10, final=0.1)
    lrs = [lr_at(i, 100, 1.0, s) for i in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert lrs[10] == pytest.approx(1.0) and lrs[-1] == pytest.approx(0.1)
    assert lrs[10 + 89 // 2] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (89 // 2) / 89)))
    assert all(a >= b for a, b in itertools.pairwise(lrs[10:]))


def test_linear_wsd_constant():
    lin = [lr_at(i, 11, 2.0, sched("linear")) for i in range(11)]
    assert lin[0] == 2.0 and lin[-1] == pytest.approx(0.0) and lin[5] == pytest.approx(1.0)
    wsd = [lr_at(i, 100, 1.0, sched("wsd", decay=0.2, final=0.0)) for i in range(100)]
    assert wsd[79] == 1.0 and wsd[80] < 1.0 and wsd[-1] == pytest.approx(0.0)
    assert {lr_at(i, 50, 0.5, sched("constant", warmup_steps=5)) for i in range(5, 50)} == {0.5}


def test_no_weight_decay_on_embeddings_and_norms():
    model = build_meta(hf_config(tiny_model(), eos_id=1, pad_id=0, max_positions=64))
    names = {id(p): n for n, p in model.named_parameters()}
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    nd = {names[id(p)] for p in no_decay["params"]}
    assert "model.embed_tokens.weight" in nd and "model.norm.weight" in nd
    assert all(n.endswith("norm.weight") or n == "model.embed_tokens.weight" for n in nd)
    assert "lm_head.weight" in {names[id(p)] for p in decay["params"]}


def test_loss_sums_match_cross_entropy_and_z_loss():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 11, generator=g)
    targets = torch.randint(0, 11, (2, 5), generator=g)
    targets[0, :2] = IGNORE
    ce, z, n = loss_sums(logits, targets)
    ref = torch.nn.functional.cross_entropy(
        logits.view(-1, 11), targets.view(-1), ignore_index=IGNORE, reduction="sum"
    )
    assert n == 8 and ce.item() == pytest.approx(ref.item(), rel=1e-6)
    lse = torch.logsumexp(logits, -1)[targets != IGNORE]
    assert z.item() == pytest.approx(lse.square().sum().item(), rel=1e-6)
