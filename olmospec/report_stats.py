"""Seeds-aware uncertainty for result tables: mean and spread over seeds, and a two-level bootstrap
of the difference between a variant and the baseline.

Why two levels: a difference between two training recipes is real only if it exceeds what another
training seed would give (seed variance) and what another sample of benchmark items would give
(item variance). lm-eval's stderr covers only the second; a table of single runs covers neither.
Each bootstrap replicate draws, with replacement, the seeds of each arm (independently) and one set
of items shared by both arms (the items are the same benchmark questions, so the comparison is
paired), and takes the difference of the means. The interval is the 2.5th-97.5th percentile of the
replicates. The generator is seeded, so the same scores always give the same interval. When both arms
ran the same seeds (seed s of one is seed s of the other: same initialisation and data order), the
seeds can be paired too (`paired_seeds=True`): one draw of seed indices serves both arms, so what the
seed does to both cancels in the difference.

    delta = bootstrap_delta(variant_scores, baseline_scores)   # rows: seeds, columns: items
    delta.estimate, delta.low, delta.high, delta.significant

`bootstrap_delta_of_deltas` compares two item subsets of the same arms (a difference in
differences): how much more the arms differ on, say, the contaminated items than on the clean ones,
so that what separates the two models everywhere cancels. Each replicate draws the seeds once for
both subsets and the items of each subset on their own.
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
                    level: float = 0.95, paired_seeds: bool = False) -> Delta:
    """Difference of means (variant - baseline) with a two-level (seeds x items) bootstrap interval.

    `variant` and `baseline` are (seeds, items) arrays over the same items in the same order; with
    `paired_seeds` their rows are the same seeds in the same order.
    """
    v, b = np.asarray(variant, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if v.ndim != 2 or b.ndim != 2 or v.shape[1] != b.shape[1] or v.shape[1] == 0:
        raise ValueError(f"need (seeds, items) arrays over the same items, got {v.shape} and {b.shape}")
    if paired_seeds and v.shape[0] != b.shape[0]:
        raise ValueError(f"paired seeds need the same seeds in both arms, got {v.shape[0]} and {b.shape[0]}")
    rng = np.random.default_rng(seed)
    n = v.shape[1]
    # item weights of each replicate: how often each item was drawn, as a fraction
    weights = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates) / n  # (R, items)
    v_pick = rng.integers(0, v.shape[0], size=(replicates, v.shape[0]))
    b_pick = v_pick if paired_seeds else rng.integers(0, b.shape[0], size=(replicates, b.shape[0]))
    reps = _replicate(v, weights, v_pick) - _replicate(b, weights, b_pick)
    return _interval(float(v.mean() - b.mean()), reps, level)


def _replicate(x: np.ndarray, weights: np.ndarray, pick: np.ndarray) -> np.ndarray:
    """Per replicate: the mean over the drawn seeds of each seed's weighted mean over the items."""
    return np.take_along_axis(weights @ x.T, pick, axis=1).mean(axis=1)


def _interval(estimate: float, reps: np.ndarray, level: float) -> Delta:
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(reps, [tail, 100 - tail])
    return Delta(estimate, float(low), float(high))


def bootstrap_delta_of_deltas(v1: np.ndarray, b1: np.ndarray, v2: np.ndarray, b2: np.ndarray,
                              replicates: int = REPLICATES, seed: int = SEED, level: float = 0.95,
                              paired_seeds: bool = False) -> Delta:
    """(v1 - b1) - (v2 - b2): the arms' difference on items 1 minus their difference on items 2.

    v1/b1 are (seeds, items 1) arrays of the two arms, v2/b2 the same seeds on items 2."""
    arrays = [np.asarray(x, dtype=np.float64) for x in (v1, b1, v2, b2)]
    v1, b1, v2, b2 = arrays
    if v1.shape[0] != v2.shape[0] or b1.shape[0] != b2.shape[0] or v1.shape[1] != b1.shape[1] \
            or v2.shape[1] != b2.shape[1] or 0 in (v1.shape[1], v2.shape[1]):
        raise ValueError(f"need the same seeds on both item sets, got {[x.shape for x in arrays]}")
    if paired_seeds and v1.shape[0] != b1.shape[0]:
        raise ValueError(f"paired seeds need the same seeds in both arms, got {v1.shape[0]} and {b1.shape[0]}")
    rng = np.random.default_rng(seed)
    n1, n2 = v1.shape[1], v2.shape[1]
    w1 = rng.multinomial(n1, np.full(n1, 1.0 / n1), size=replicates) / n1
    w2 = rng.multinomial(n2, np.full(n2, 1.0 / n2), size=replicates) / n2
    v_pick = rng.integers(0, v1.shape[0], size=(replicates, v1.shape[0]))
    b_pick = v_pick if paired_seeds else rng.integers(0, b1.shape[0], size=(replicates, b1.shape[0]))
    reps = (_replicate(v1, w1, v_pick) - _replicate(b1, w1, b_pick)) - (_replicate(v2, w2, v_pick) - _replicate(b2, w2, b_pick))
    return _interval(float((v1.mean() - b1.mean()) - (v2.mean() - b2.mean())), reps, level)
