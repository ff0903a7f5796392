"""AdamW with OLMo-style parameter groups, the learning-rate schedules, and the training loss.

Weight decay skips the input embedding (as OLMo-core does) and every 1-D parameter (RMSNorm gains,
which decay would pull towards 0 instead of 1); the LM head is decayed like any other matrix.

The schedule is a pure function of the step, so resuming needs only the step number.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from olmospec.ir.train import OptimizerConfig, ScheduleConfig
from runners.train.data import IGNORE


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "embed_tokens" in name else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, cfg: OptimizerConfig, *, fused: bool = False) -> torch.optim.Optimizer:
    """`fused`: PyTorch's fused AdamW kernel (CUDA and CPU), instead of the default per-list ("foreach")
    one, which also allocates temporaries the size of the parameters."""
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr, betas=cfg.betas, eps=cfg.eps,
                             fused=True if fused else None)


def lr_at(step: int, total: int, peak: float, s: ScheduleConfig) -> float:
    """Learning rate of update `step` (0-based) out of `total`.

    Warmup rises linearly to `peak` over `warmup_steps`; then cosine and linear go from peak to
    `final * peak` at the last step, WSD holds the peak and decays linearly to `final * peak` over
    the last `decay` fraction of the steps, constant holds the peak.
    """
    warmup = s.warmup_steps or round(s.warmup_fraction * total)
    if step < warmup:
        return peak * (step + 1) / warmup
    low = s.final * peak
    if s.kind == "constant":
        return peak
    if s.kind == "wsd":
        decay_steps = max(1, round(s.decay * total))
        start = total - decay_steps
        if step < start:
            return peak
        frac = (step - start + 1) / decay_steps
        return peak - (peak - low) * frac
    span = max(1, total - 1 - warmup)
    frac = min(1.0, (step - warmup) / span)
    if s.kind == "cosine":
        return low + (peak - low) * 0.5 * (1 + math.cos(math.pi * frac))
    return peak - (peak - low) * frac


def loss_sums(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Summed cross-entropy, summed z-loss term (logsumexp^2) and the count of trained tokens.

    Sums, not means: the caller divides by the token count of the whole global batch, so that every
    token weighs the same however the batch is split across ranks and micro-batches. Computed in
    fp32 whatever the compute dtype.
    """
    logits = logits.float()
    mask = targets != IGNORE
    lse = torch.logsumexp(logits, dim=-1)
    picked = logits.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    ce = torch.where(mask, lse - picked, 0.0).sum()
    z = torch.where(mask, lse.square(), 0.0).sum()
    return ce, z, mask.sum()
