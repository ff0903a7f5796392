"""Seeds-aware uncertainty for result tables: mean and spread over seeds, and a two-level bootstrap
of the difference between a variant and the baseline.

Why two levels: a difference between two training recipes is real only if it exceeds what another
training seed would give (seed variance) and what another sample of benchmark items would give
(item variance). lm-eval's stderr covers only the second; a table of single runs covers neither.
Each bootstrap replicate draws, with replacement, the seeds of each arm (independently) and one set
of items shared by both arms (the items are the same benchmark questions, so the comparison is
paired), and takes the difference of the means. The interval is the 2.5th-97.5th percentile of the
replicates. The generator is seeded, so the same scores always give the same interval.

    delta = bootstrap_delta(variant_scores, baseline_scores)   # rows: seeds, columns: items
    delta.estimate, delta.low, delta.high, delta.significant
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

REPLICATES = 2000
SEED = 0


def mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1) over seeds; sd is None for a single seed."""
    if not values:
        return None, None
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


@dataclass(frozen=True)
class Delta:
    estimate: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """False when the interval contains zero: "no significant difference"."""
        return not (self.low <= 0.0 <= self.high)


def bootstrap_delta(variant: np.ndarray, baseline: np.ndarray, replicates: int = REPLICATES, seed: int = SEED,
                    level: float = 0.95) -> Delta:
    """Difference of means (variant - baseline) with a two-level (seeds x items) bootstrap interval.

    `variant` and `baseline` are (seeds, items) arrays over the same items in the same order.
    """
    v, b = np.asarray(variant, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if v.ndim != 2 or b.ndim != 2 or v.shape[1] != b.shape[1] or v.shape[1] == 0:
        raise ValueError(f"need (seeds, items) arrays over the same items, got {v.shape} and {b.shape}")
    rng = np.random.default_rng(seed)
    n = v.shape[1]
    # item weights of each replicate: how often each item was drawn, as a fraction
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates) / n  # (R, items)
    v_seed_means = weights @ v.T  # (R, seeds of v): each seed's mean over the drawn items
    b_seed_means = weights @ b.T
    v_pick = rng.integers(0, v.shape[0], size=(replicates, v.shape[0]))
    b_pick = rng.integers(0, b.shape[0], size=(replicates, b.shape[0]))
    reps = (np.take_along_axis(v_seed_means, v_pick, axis=1).mean(axis=1)
            - np.take_along_axis(b_seed_means, b_pick, axis=1).mean(axis=1))
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(reps, [tail, 100 - tail])
    return Delta(float(v.mean() - b.mean()), float(low), float(high))
