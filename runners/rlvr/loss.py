"""The GRPO loss of OLMo 3's OlmoRL, as a plain function over (batch, tokens) tensors.

    loss = grpo_loss(logps, old_logps, advantages, mask)

Per response token t of sample i, with r = exp(logp - old_logp):

    pg_t  = max(-A_i * r, -A_i * clip(r, 1 - clip_low, 1 + clip_high))      (clip-higher, DAPO)
    w_t   = min(exp(old_logp - sampler_logp), tis_cap)                      (truncated importance
            sampling between the learner's and the sampler's log-probs; no gradient)
    kl_t  = exp(ref - logp) - (ref - logp) - 1                              (k3, not importance-weighted)
    loss  = sum_t mask * (w_t * pg_t + kl_coef * kl_t) / sum_t mask          (token-level normalisation)

The caller that splits a step into micro-batches (or ranks) multiplies each micro-batch's loss by
its share of the step's unmasked tokens, so the step's gradient is that of one token-level mean over
all of them. `group_advantages` gives OLMo 3's `centered` advantages (reward minus the group mean)
or `standard` ones (also divided by the group's population std + eps).
"""

from __future__ import annotations

import torch

LOG_RATIO_BOUND = 20.0  # exp of a larger log-ratio overflows float32; the ratio is capped anyway


def grpo_loss(logps, old_logps, advantages, mask, clip_low=0.2, clip_high=0.272, sampler_logps=None,
              tis_cap=None, ref_logps=None, kl_coef=0.0):
    """Scalar GRPO loss normalised by the number of unmasked tokens (see the module docstring).
    `advantages` is (batch,) or (batch, tokens); `mask` is 1 on response tokens."""
    mask = mask.to(logps.dtype)
    adv = advantages.to(logps.dtype)
    if adv.dim() == 1:
        adv = adv[:, None]
    ratio = torch.exp(torch.clamp(logps - old_logps, -LOG_RATIO_BOUND, LOG_RATIO_BOUND))
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.maximum(-adv * ratio, -adv * clipped)
    if sampler_logps is not None:
        w = torch.exp(torch.clamp(old_logps - sampler_logps, -LOG_RATIO_BOUND, LOG_RATIO_BOUND)).detach()
        if tis_cap is not None:
            w = torch.clamp(w, max=tis_cap)
        per_token = w * per_token
    if ref_logps is not None and kl_coef:
        d = ref_logps - logps
        per_token = per_token + kl_coef * (torch.exp(d) - d - 1.0)
    return (per_token * mask).sum() / mask.sum().clamp(min=1.0)


@torch.no_grad()
def clip_fractions(logps, old_logps, advantages, mask, clip_low=0.2, clip_high=0.272) -> dict[str, float]:
    """Shares of response tokens whose ratio was clipped below (A < 0) or above (A > 0)."""
    adv = advantages[:, None] if advantages.dim() == 1 else advantages
    ratio = torch.exp(logps - old_logps)
    m = mask.bool()
    n = max(1, int(m.sum()))
    low = ((ratio < 1.0 - clip_low) & (adv < 0) & m).sum()
    high = ((ratio > 1.0 + clip_high) & (adv > 0) & m).sum()
    return {"clip_low_frac": float(low) / n, "clip_high_frac": float(high) / n}


def group_advantages(rewards: torch.Tensor, kind: str = "centered", eps: float = 1e-8) -> torch.Tensor:
    """(groups, G) rewards -> (groups, G) advantages: `centered` r - mean, `standard` also / (std + eps)."""
    centered = rewards - rewards.mean(dim=1, keepdim=True)
    if kind == "centered":
        return centered
    if kind == "standard":
        return centered / (rewards.std(dim=1, unbiased=False, keepdim=True) + eps)
    raise ValueError(f"advantage normalisation must be 'centered' or 'standard', not {kind!r}")
