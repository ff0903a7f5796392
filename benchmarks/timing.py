"""Timing two implementations of one step against each other on a shared machine."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def alternating_medians(ours: Callable[[int], object], base: Callable[[int], object], rounds: int = 8
                        ) -> tuple[float, float]:
    """Median seconds of `ours(i)` and `base(i)` over `rounds` steps each, after one warm-up step.

    The two alternate step by step, so that drift in machine load (shared cores) hits both sides.
    """
    base(0), ours(0)
    a, b = [], []
    for i in range(1, rounds + 1):
        t = time.perf_counter()
        ours(i)
        a.append(time.perf_counter() - t)
        t = time.perf_counter()
        base(i)
        b.append(time.perf_counter() - t)
    return float(np.median(a)), float(np.median(b))


def plain_update(model, optimizer, loss) -> float:
    """The baselines' optimizer step: backward, clip at 1, AdamW, clear; returns the loss."""
    import torch

    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.item()
