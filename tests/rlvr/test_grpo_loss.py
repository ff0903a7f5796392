"""`grpo_loss` in float64 against a reference written independently, token by token, from the
published formulas (OLMo 3 report eq. 1 with clip-higher and truncated importance sampling; the k3
estimator e^-d - 1 + d with d = logp - ref), values and gradients."""

import math

import pytest
import torch

from runners.rlvr import grpo_loss
from runners.rlvr.loss import clip_fractions, group_advantages


def reference(logps, old, adv, mask, clip_low, clip_high, sampler=None, cap=None, ref=None, beta=0.0):
    """Token-level GRPO: -(1/N) sum_i sum_t [min(pi/pi_old, cap) ... ] in the paper's min() form,
    one scalar at a time (autograd flows through the scalars)."""
    total, n = 0.0, 0
    for i in range(logps.shape[0]):
        a = float(adv[i])
        for t in range(logps.shape[1]):
            if not mask[i, t]:
                continue
            n += 1
            r = torch.exp(logps[i, t] - old[i, t])
            r_clip = min(max(r.item(), 1 - clip_low), 1 + clip_high)
            # min(r*A, clip(r)*A): the clipped branch is a constant (no gradient) when it wins
            surrogate = r * a if r.item() * a <= r_clip * a else torch.tensor(r_clip * a, dtype=torch.float64)
            w = 1.0
            if sampler is not None:
                w = math.exp(float(old[i, t]) - float(sampler[i, t]))
                if cap is not None:
                    w = min(w, cap)
            term = -w * surrogate
            if ref is not None and beta:
                d = logps[i, t] - ref[i, t]
                term = term + beta * (torch.exp(-d) - 1 + d)
            total = total + term
    return total / n


def _batch(seed=0, b=6, t=9, spread=0.4):
    g = torch.Generator().manual_seed(seed)
    old = -torch.rand(b, t, generator=g, dtype=torch.float64) * 3
    logps = (old + spread * torch.randn(b, t, generator=g, dtype=torch.float64)).requires_grad_(True)
    sampler = old + 0.5 * torch.randn(b, t, generator=g, dtype=torch.float64)
    ref = old + 0.3 * torch.randn(b, t, generator=g, dtype=torch.float64)
    adv = torch.randn(b, generator=g, dtype=torch.float64)
    mask = torch.rand(b, t, generator=g) > 0.3
    mask[:, 0] = True
    return logps, old, adv, mask, sampler, ref


CASES = {
    "plain": {},
    "symmetric_clip": {"clip_low": 0.2, "clip_high": 0.2},
    "tis": {"sampler": True, "tis_cap": 2.0},
    "tis_uncapped": {"sampler": True, "tis_cap": None},
    "k3": {"ref": True, "kl_coef": 0.1},
    "all": {"sampler": True, "tis_cap": 2.0, "ref": True, "kl_coef": 0.05, "clip_high": 0.28},
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_values_and_gradients_match_the_reference(case, seed):
    kw = CASES[case]
    logps, old, adv, mask, sampler, ref = _batch(seed)
    lo, hi = kw.get("clip_low", 0.2), kw.get("clip_high", 0.272)
    s = sampler if kw.get("sampler") else None
    rf = ref if kw.get("ref") else None
    ours = grpo_loss(logps, old, adv, mask, clip_low=lo, clip_high=hi, sampler_logps=s,
                     tis_cap=kw.get("tis_cap"), ref_logps=rf, kl_coef=kw.get("kl_coef", 0.0))
    (g_ours,) = torch.autograd.grad(ours, logps)
    theirs = reference(logps, old, adv, mask, lo, hi, s, kw.get("tis_cap"), rf, kw.get("kl_coef", 0.0))
    (g_ref,) = torch.autograd.grad(theirs, logps)
    assert ours.dtype == torch.float64
    assert (ours).item() == pytest.approx((theirs).item(), abs=1e-12, rel=1e-12)
    torch.testing.assert_close(g_ours, g_ref, atol=1e-12, rtol=1e-10)
    assert torch.all(g_ours[~mask] == 0)


def test_clipping_is_active_in_these_cases():
    """The cases above exercise both clip branches (else the comparison proves little)."""
    logps, old, adv, mask, *_ = _batch(0)
    fr = clip_fractions(logps.detach(), old, adv, mask)
    assert fr["clip_low_frac"] > 0.03 and fr["clip_high_frac"] > 0.03


def test_clip_higher_is_asymmetric():
    """A ratio of 1.25 with A > 0 is inside clip-higher's 1.272 (gradient flows) but outside a
    symmetric 1.2 (no gradient); at A < 0 a ratio of 0.75 is clipped by the lower bound."""
    old = torch.zeros(1, 1, dtype=torch.float64)
    for kind, adv, r, hi, grad_flows in [("inside", 1.0, 1.25, 0.272, True), ("outside", 1.0, 1.25, 0.2, False),
                                          ("low", -1.0, 0.75, 0.272, False), ("low-in", -1.0, 0.85, 0.272, True)]:
        lp = torch.full((1, 1), math.log(r), dtype=torch.float64, requires_grad=True)
        loss = grpo_loss(lp, old, torch.tensor([adv], dtype=torch.float64), torch.ones(1, 1), clip_high=hi)
        (g,) = torch.autograd.grad(loss, lp)
        assert (abs(float(g)) > 0) == grad_flows, kind
        if grad_flows:
            assert float(g) == pytest.approx(-adv * r)


def test_token_level_normalisation_across_micro_batches():
    """Long and short responses weigh per token: splitting a step into micro-batches and weighting
    each by its share of tokens gives exactly the one-batch loss and gradient."""
    logps, old, adv, mask, sampler, _ = _batch(3, b=8)
    whole = grpo_loss(logps, old, adv, mask, sampler_logps=sampler, tis_cap=2.0)
    (g_whole,) = torch.autograd.grad(whole, logps)
    total = mask.sum()
    parts = sum(grpo_loss(logps[s], old[s], adv[s], mask[s], sampler_logps=sampler[s], tis_cap=2.0)
                * mask[s].sum() / total for s in (slice(0, 3), slice(3, 8)))
    (g_parts,) = torch.autograd.grad(parts, logps)
    assert (parts).item() == pytest.approx((whole).item(), abs=1e-12)
    torch.testing.assert_close(g_parts, g_whole, atol=1e-14, rtol=0)
    per_seq_mean = sum(grpo_loss(logps[i:i + 1], old[i:i + 1], adv[i:i + 1], mask[i:i + 1]) for i in range(8)) / 8
    assert (per_seq_mean).item() != pytest.approx((grpo_loss(logps, old, adv, mask)).item(), abs=1e-6)


def test_k3_values():
    """k3 = 0 at d = 0 and e^-ln2 - 1 + ln2 = 0.19315 at d = ln 2; its gradient there is 1 - 1/2."""
    lp = torch.tensor([[math.log(2.0), 0.0]], dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(1, 2, dtype=torch.float64)
    loss = grpo_loss(lp, lp.detach(), torch.zeros(1, dtype=torch.float64), torch.tensor([[1, 0]]),
                     ref_logps=zero, kl_coef=1.0)
    assert (loss).item() == pytest.approx(0.5 - 1 + math.log(2), abs=1e-15)
    assert (loss).item() == pytest.approx(0.19315, abs=1e-5)
    (g,) = torch.autograd.grad(loss, lp)
    assert float(g[0, 0]) == pytest.approx(0.5) and float(g[0, 1]) == 0.0


def test_tis_weight_is_capped_and_carries_no_gradient():
    old = torch.zeros(1, 1, dtype=torch.float64)
    sampler = torch.full((1, 1), -math.log(5.0), dtype=torch.float64)  # old / sampler = 5 > cap 2
    lp = torch.zeros(1, 1, dtype=torch.float64, requires_grad=True)
    one = torch.ones(1, dtype=torch.float64)
    loss = grpo_loss(lp, old, one, torch.ones(1, 1), sampler_logps=sampler, tis_cap=2.0)
    assert (loss).item() == pytest.approx(-2.0)
    (g,) = torch.autograd.grad(loss, lp)
    assert float(g) == pytest.approx(-2.0)
    loss = grpo_loss(lp, old, one, torch.ones(1, 1), sampler_logps=sampler)
    assert (loss).item() == pytest.approx(-5.0)


def test_group_advantages():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]], dtype=torch.float64)
    c = group_advantages(r, "centered")
    torch.testing.assert_close(c[0], torch.tensor([0.5, -0.5, -0.5, 0.5], dtype=torch.float64))
    assert torch.all(c[1] == 0)
    s = group_advantages(r, "standard")
    torch.testing.assert_close(s[2], torch.tensor([0.75, -0.25, -0.25, -0.25], dtype=torch.float64)
                               / (math.sqrt(3 / 16) + 1e-8))
    with pytest.raises(ValueError):
        group_advantages(r, "whitened")
