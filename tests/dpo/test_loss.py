"""The DPO losses in float64 against formulas written here from their definitions, not from the
code under test: per-token log-probs by hand (numpy, loops), the loss with label smoothing, and
TRL's `sigmoid_norm` as TRL writes it (each log-ratio divided by its completion length). Values and
gradients (autograd against the reference, and finite differences)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from runners.dpo import completion_logps, dpo_loss, reward_accuracy

V = 11


def batch(seed: int):
    """Two policies' and references' logits over (chosen, rejected) rows of unequal prompt and
    completion lengths, right-padded; masks mark completion tokens only."""
    rng = np.random.default_rng(seed)
    rows = [(3, 5), (1, 2), (4, 1), (2, 7)]  # (prompt length, completion length) per pair and side
    width = max(p + c for p, c in rows) + 2
    ids = rng.integers(0, V, size=(2 * len(rows), width))
    mask = np.zeros_like(ids, dtype=bool)
    for k in range(2 * len(rows)):
        p, c = rows[k % len(rows)] if k < len(rows) else rows[(k + 1) % len(rows)]
        mask[k, p : p + c] = True
        ids[k, p + c :] = 0  # padding
    pol = rng.normal(size=(2 * len(rows), width, V)) * 2
    ref = rng.normal(size=(2 * len(rows), width, V)) * 2
    return ids, mask, pol, ref, len(rows)


def by_hand(logits: np.ndarray, ids: np.ndarray, mask: np.ndarray) -> tuple[list[float], list[int]]:
    """Sum over completion tokens t of log softmax(logits[t-1])[ids[t]], with explicit loops."""
    sums, counts = [], []
    for b in range(ids.shape[0]):
        s, n = 0.0, 0
        for t in range(1, ids.shape[1]):
            if mask[b, t]:
                row = logits[b, t - 1]
                m = max(row)
                lse = m + math.log(sum(math.exp(x - m) for x in row))
                s += row[ids[b, t]] - lse
                n += 1
        sums.append(s)
        counts.append(n)
    return sums, counts


def log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def reference_loss(pol, ref, ids, mask, n, beta, norm, eps) -> list[float]:
    ps, counts = by_hand(pol, ids, mask)
    rs, _ = by_hand(ref, ids, mask)
    out = []
    for i in range(n):
        c, r = ps[i] - rs[i], ps[n + i] - rs[n + i]
        if norm:
            c, r = c / max(counts[i], 1), r / max(counts[n + i], 1)
        z = beta * (c - r)
        out.append(-(1 - eps) * log_sigmoid(z) - eps * log_sigmoid(-z))
    return out


def ours(pol, ref, ids, mask, n, beta, loss_type, eps):
    lp, counts = completion_logps(pol, ids, mask)
    with torch.no_grad():
        lr, _ = completion_logps(ref, ids, mask)
    return dpo_loss(lp[:n], lp[n:], lr[:n], lr[n:], beta, loss_type, counts[:n], counts[n:], label_smoothing=eps)


@pytest.mark.parametrize("beta", [0.1, 5.0])
@pytest.mark.parametrize("loss_type", ["dpo", "dpo_norm"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_values_match_the_definitions(beta, loss_type, eps):
    ids, mask, pol, ref, n = batch(0)
    want = reference_loss(pol, ref, ids, mask, n, beta, loss_type == "dpo_norm", eps)
    got = ours(torch.tensor(pol), torch.tensor(ref), torch.tensor(ids), torch.tensor(mask), n, beta, loss_type, eps)
    assert got.dtype == torch.float64
    assert got.tolist() == pytest.approx(want, abs=1e-10)


def test_prompt_and_padding_tokens_do_not_count():
    ids, mask, pol, ref, n = batch(1)
    base = ours(torch.tensor(pol), torch.tensor(ref), torch.tensor(ids), torch.tensor(mask), n, 5.0, "dpo_norm", 0.0)
    pol2 = pol.copy()
    for b in range(ids.shape[0]):  # change every logit that predicts a token outside the completion
        for t in range(1, ids.shape[1]):
            if not mask[b, t]:
                pol2[b, t - 1] += np.random.default_rng(b * 100 + t).normal(size=V) * 5
    got = ours(torch.tensor(pol2), torch.tensor(ref), torch.tensor(ids), torch.tensor(mask), n, 5.0, "dpo_norm", 0.0)
    assert torch.allclose(got, base, atol=1e-12)


def trl_style(pol, ref, ids, cmask, n, beta, norm):
    """TRL's DPO: selective log-softmax on shifted logits, masked, summed; `sigmoid_norm` divides each
    log-ratio by its completion length (completion_mask.sum(1)) before the difference."""
    def logps(logits):
        lp = torch.log_softmax(logits[:, :-1], dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        lp = lp.masked_fill(cmask[:, 1:] == 0, 0.0)
        return lp.sum(1)

    pl, rl = logps(pol), logps(ref).detach()
    c, r = pl[:n] - rl[:n], pl[n:] - rl[n:]
    if norm:
        lengths = cmask.sum(1).to(pl.dtype)
        c, r = c / lengths[:n], r / lengths[n:]
    return -torch.nn.functional.logsigmoid(beta * (c - r))


@pytest.mark.parametrize(("loss_type", "norm"), [("dpo", False), ("dpo_norm", True)])
@pytest.mark.parametrize("beta", [0.1, 5.0])
def test_matches_trl_sigmoid_and_sigmoid_norm_values_and_gradients(loss_type, norm, beta):
    """dpo == TRL `sigmoid`, dpo_norm == TRL `sigmoid_norm`: values, and gradients w.r.t. the logits."""
    ids, mask, pol, ref, n = batch(2)
    ids_t, mask_t, ref_t = torch.tensor(ids), torch.tensor(mask), torch.tensor(ref)
    a = torch.tensor(pol, requires_grad=True)
    b = torch.tensor(pol, requires_grad=True)
    mine = ours(a, ref_t, ids_t, mask_t, n, beta, loss_type, 0.0)
    theirs = trl_style(b, ref_t, ids_t, mask_t, n, beta, norm)
    assert torch.allclose(mine, theirs, atol=1e-10)
    (ga,) = torch.autograd.grad(mine.mean(), a)
    (gb,) = torch.autograd.grad(theirs.mean(), b)
    assert torch.allclose(ga, gb, atol=1e-12)
    assert ga.abs().sum() > 0


@pytest.mark.parametrize("loss_type", ["dpo", "dpo_norm"])
def test_gradients_by_finite_differences(loss_type):
    rng = np.random.default_rng(3)
    x = [torch.tensor(rng.normal(size=5), requires_grad=True) for _ in range(4)]
    lc, lr = torch.tensor([3, 1, 7, 2, 4]), torch.tensor([2, 5, 1, 9, 4])

    def f(pc, pr, rc, rr):
        return dpo_loss(pc, pr, rc, rr, 5.0, loss_type, lc, lr, label_smoothing=0.1)

    assert torch.autograd.gradcheck(f, tuple(x), eps=1e-6, atol=1e-8)


def test_zero_length_is_clamped_and_bad_settings_are_named():
    z = torch.zeros(2, dtype=torch.float64)
    out = dpo_loss(z + 1, z, z, z, 1.0, "dpo_norm", torch.tensor([0, 0]), torch.tensor([1, 1]))
    assert out.tolist() == pytest.approx([-log_sigmoid(1.0)] * 2)
    with pytest.raises(ValueError, match="lengths"):
        dpo_loss(z, z, z, z, 1.0, "dpo_norm")
    with pytest.raises(ValueError, match="unknown DPO loss"):
        dpo_loss(z, z, z, z, 1.0, "ipo")
    with pytest.raises(ValueError, match="label_smoothing"):
        dpo_loss(z, z, z, z, 1.0, "dpo", label_smoothing=0.5)


def test_untrained_policy_scores_one_half():
    z = torch.zeros(4)
    assert float(reward_accuracy(z, z)) == 0.5
    assert float(reward_accuracy(torch.tensor([1.0, 2, 0, 0]), torch.tensor([0.0, 3, 0, -1]))) == pytest.approx(0.625)
