"""Quality-aware upsampling (OLMo 3, §3.4.4): repeat the best documents, drop the worst.

Within each group (a topic, or a source), documents are ranked by quality score and placed on the
token-weighted percentile axis: a document's percentile x is the fraction of the group's tokens with a
lower score (tied scores share one interval, so ties are treated alike). A curve gives the repetition
rate at each percentile:

    f(x) = 0                                      for x < a   (a = drop_below, 0.40)
    f(x) = C * (x - a)**p * exp(lam * (x - a))    for x >= a

and a document's repetition is the mean of f over its percentile interval, so that the expected
number of tokens out is exactly  available_tokens * integral(f). Two constraints fix the curve:

    integral of f over [s, 1]          = target_tokens / available_tokens   (the group's budget)
    mean of f over the top 5% [0.95, 1] = M                                 (max repetition, 7)

where s >= a is where the first kept document starts (a document straddling a is dropped whole, so
the integral is taken over what is actually kept). `lam` is held fixed (default 0, a power law), `p`
is found by bisection (the ratio of the two constraints is increasing in p) and C then follows. A
budget that even a flat curve cannot spend without repeating the top more than M times is an error
naming the group; a budget so small that the top 5% cannot reach M is met with the steepest curve
allowed (`p_max`), flagged in the stats.

Fractional repetitions are rounded stochastically and unbiasedly (systematic rounding in an order
set by hashes of (seed, document id), see `_round`), so the result does not depend on document order
or worker count and the realized token total stays close to the target.

Output: kept documents carry an integer `repeat` field (>= 1); `expand_repeats` turns them into
copies with ids `<id>#k` when a consumer needs physical copies. Documents below the threshold are
removed with reason "below_quality_threshold", documents whose repetition rounds to 0 with "rounded_to_zero".

`plan_group` makes the decision from (id, score, tokens) arrays alone, for sharded runs whose reduce
phase sees every document of a group but none of their text.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from runners.curation.base import Doc, Removed, StepResult, doc_seed

TOP = 0.05
_GRID = 1 << 16


class UpsampleError(ValueError):
    """A group's token target cannot be met under the repetition cap."""


@lru_cache(maxsize=4)  # 1 MB each; fitting probes many p once, then the fitted one is reused
def _shape_antiderivative(p: float, k: float) -> tuple[np.ndarray, np.ndarray]:
    """G(u) = integral_0^u t^p exp(k (t - 1)) dt on a grid of u in [0, 1] (cumulative trapezoid)."""
    u = np.linspace(0.0, 1.0, _GRID + 1)
    g = u**p * np.exp(k * (u - 1.0))
    return u, np.concatenate([[0.0], np.cumsum((g[1:] + g[:-1]) / 2) / _GRID])


@dataclass(frozen=True, slots=True)
class Curve:
    """f(x) = C (x-a)^p exp(lam (x-a)), written as c * u^p * exp(lam (1-a) (u-1)) with u = (x-a)/(1-a).

    NOTE: in the scaled form u stays in [0, 1], so a large p underflows gracefully instead of the raw
    (x-a)^p being ~1e-30 while C is ~1e30; `c` is C * (1-a)^p * exp(lam (1-a)).
    """

    a: float
    c: float
    p: float
    lam: float

    def _u(self, x: np.ndarray | float) -> np.ndarray:
        return np.clip((np.asarray(x, dtype=np.float64) - self.a) / (1.0 - self.a), 0.0, 1.0)

    def value(self, x: np.ndarray | float) -> np.ndarray:
        u = self._u(x)
        return self.c * u**self.p * np.exp(self.lam * (1.0 - self.a) * (u - 1.0)) * (np.asarray(x) >= self.a)

    def cumulative(self, x: np.ndarray | float) -> np.ndarray:
        """Integral of f from a to x: closed form when lam = 0, else a fine grid (relative error < 1e-6)."""
        u = self._u(x)
        if self.lam == 0:
            return self.c * (1.0 - self.a) * u ** (self.p + 1) / (self.p + 1)
        grid_u, grid_g = _shape_antiderivative(float(self.p), float(self.lam * (1.0 - self.a)))
        return self.c * (1.0 - self.a) * np.interp(u, grid_u, grid_g)

    def integral(self, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
        return self.cumulative(hi) - self.cumulative(lo)

    def mean(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Mean of f over each [lo, hi]; f itself where the interval is empty (zero-token docs)."""
        width = hi - lo
        safe = np.where(width > 0, width, 1.0)
        return np.where(width > 0, self.integral(lo, hi) / safe, self.value(lo))


def fit_curve(ratio: float, start: float, a: float = 0.40, max_repeat: float = 7.0, lam: float = 0.0,
              p_max: float = 200.0, group: str = "") -> tuple[Curve, bool]:
    """The curve whose integral over [start, 1] is `ratio` and whose top-5% mean is `max_repeat`.

    `start` (>= a) is where the kept documents begin: the first document wholly above `a`. Returns
    the curve and whether the top-5% mean reaches `max_repeat` (False: budget too small, p = p_max).
    """
    if ratio <= 0:
        return Curve(a, 0.0, 0.0, lam), False
    top_lo = max(1.0 - TOP, start)

    def shape_ratio(p: float) -> float:
        unit = Curve(a, 1.0, p, lam)
        return float(unit.integral(top_lo, 1.0) / (1.0 - top_lo) / unit.integral(start, 1.0))

    want = max_repeat / ratio
    if shape_ratio(0.0) > want * (1 + 1e-9):
        flat_max = max_repeat / shape_ratio(0.0)
        raise UpsampleError(
            f"group {group!r}: target is {ratio:.3f}x its available tokens, but at most {flat_max:.3f}x "
            f"fits without repeating the top {TOP:.0%} more than {max_repeat:g} times"
        )
    reached = shape_ratio(p_max) >= want
    lo_p, hi_p = 0.0, p_max
    if reached:
        for _ in range(100):
            mid = (lo_p + hi_p) / 2
            lo_p, hi_p = (mid, hi_p) if shape_ratio(mid) < want else (lo_p, mid)
    p = hi_p
    unit = Curve(a, 1.0, p, lam)
    return Curve(a, ratio / float(unit.integral(start, 1.0)), p, lam), reached


def _default_tokens(doc: Doc) -> int:
    """`n_tokens` when the document has it (set by tokenization), else its whitespace word count."""
    return int(doc["n_tokens"]) if "n_tokens" in doc else len(doc["text"].split())


def _per_group(value: float | Mapping[str, float] | None, group: str) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    if group not in value:
        raise UpsampleError(f"no upsampling target for group {group!r} (targets: {sorted(value)})")
    return value[group]


def percentile_intervals(scores: np.ndarray, tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Token-weighted [lo, hi) of each document: lo = fraction of tokens with a strictly lower score."""
    total = float(tokens.sum())
    order = np.argsort(scores, kind="stable")
    s, t = scores[order], tokens[order].astype(np.float64)
    new_block = np.concatenate([[True], s[1:] != s[:-1]])
    block = np.cumsum(new_block) - 1
    block_tokens = np.bincount(block, weights=t)
    block_hi = np.cumsum(block_tokens)
    block_lo = block_hi - block_tokens
    lo, hi = np.empty(len(s)), np.empty(len(s))
    lo[order], hi[order] = block_lo[block] / total, block_hi[block] / total
    return lo, hi


def upsample(
    docs: Iterable[Doc],
    ratio: float | Mapping[str, float] | None = None,
    target_tokens: float | Mapping[str, float] | None = None,
    drop_below: float = 0.40,
    max_repeat: float = 7.0,
    lam: float = 0.0,
    seed: int = 0,
    score_field: str = "quality",
    group_field: str | None = "topic",
    tokens_of: Callable[[Doc], int] = _default_tokens,
) -> StepResult:
    """Give each document a `repeat` count from its group's curve; see the module docstring.

    Exactly one of `ratio` (target / available tokens) and `target_tokens` is given, either one number
    for every group or a mapping group -> number. Documents without `group_field` form group "".
    """
    if (ratio is None) == (target_tokens is None):
        raise ValueError("give exactly one of ratio and target_tokens")
    groups: dict[str, list[Doc]] = defaultdict(list)
    for doc in docs:
        groups["" if group_field is None else str(doc.get(group_field, ""))].append(doc)
    result = StepResult()
    group_stats = {}
    for name in sorted(groups):
        group_stats[name] = _upsample_group(
            name, groups[name], result, ratio, target_tokens, drop_below, max_repeat, lam, seed,
            score_field, tokens_of,
        )
    result.stats = {
        "documents_in": sum(len(g) for g in groups.values()),
        "documents_kept": len(result.kept),
        "removed": result.reason_counts(),
        "groups": group_stats,
    }
    return result


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """One group's decision, aligned with its input arrays, and the group's numbers."""

    repeats: np.ndarray  # int64 copies per document; 0 for dropped ones
    below: np.ndarray  # bool: under the quality threshold
    rates: np.ndarray  # expected copies before rounding
    stats: dict


def plan_group(ids: Sequence[str], scores: np.ndarray, tokens: np.ndarray, ratio: float,
               drop_below: float = 0.40, max_repeat: float = 7.0, lam: float = 0.0, seed: int = 0,
               name: str = "") -> GroupPlan:
    """The upsampling decision from ids, scores and token counts alone (no text needed).

    This is what a sharded run calls once per group in its reduce phase, after mapping every shard
    to (id, score, tokens); `upsample` is the in-memory wrapper around it.
    """
    tokens = np.asarray(tokens, dtype=np.int64)
    lo, hi = percentile_intervals(np.asarray(scores, dtype=np.float64), tokens)
    keep = lo >= drop_below
    start = float(lo[keep].min()) if keep.any() else 1.0
    if keep.any() and start < 1.0:
        curve, reached = fit_curve(ratio, start, drop_below, max_repeat, lam, group=name)
    else:
        curve, reached = Curve(drop_below, 0.0, 0.0, lam), False
    rates = curve.mean(lo, hi)
    repeats = _round(rates * keep, [str(i) for i in ids], seed, name)
    top = lo >= 1.0 - TOP
    available = int(tokens.sum())
    stats = {
        "available_tokens": available,
        "target_tokens": ratio * available,
        "expected_tokens": float((rates * keep * tokens).sum()),
        "realized_tokens": int((repeats * tokens).sum()),
        "curve": {"a": curve.a, "C": curve.c, "p": curve.p, "lam": curve.lam, "start": start},
        "top_mean_repeat_expected": float(np.average(rates[top], weights=tokens[top]))
        if tokens[top].sum() else None,
        "top_mean_reached": reached,
    }
    return GroupPlan(repeats, ~keep, rates, stats)


def _upsample_group(name, docs, result, ratio, target_tokens, drop_below, max_repeat, lam, seed,
                    score_field, tokens_of) -> dict:
    tokens = np.array([tokens_of(d) for d in docs], dtype=np.int64)
    available = int(tokens.sum())
    r = _per_group(ratio, name)
    if r is None:
        r = _per_group(target_tokens, name) / available if available else 0.0
    scores = np.array([float(d[score_field]) for d in docs])
    ids = [str(d["id"]) for d in docs]
    plan = plan_group(ids, scores, tokens, r, drop_below, max_repeat, lam, seed, name)
    for doc, below, rate, repeat in zip(docs, plan.below, plan.rates, plan.repeats, strict=True):
        if below:
            result.removed.append(Removed(str(doc["id"]), "below_quality_threshold",
                                          f"group={name} score={doc[score_field]:.4g}"))
        elif repeat == 0:
            result.removed.append(Removed(str(doc["id"]), "rounded_to_zero", f"group={name} rate={rate:.3g}"))
        else:
            result.kept.append({**doc, "repeat": int(repeat)})
    return plan.stats


def _round(rates: np.ndarray, ids: list[str], seed: int, group: str) -> np.ndarray:
    """Seeded systematic rounding: each document gets its extra copy with probability frac(rate).

    Documents are visited in the order of a per-document hash of (seed, id), and a document gets one
    extra copy when the running sum of fractional parts, shifted by an offset drawn from (seed, group),
    crosses an integer. Each document's chance is exactly its fractional part (unbiased, like
    independent coin flips), but the number of extra copies is fixed to within one, which keeps the
    group's token total within a fraction of a percent of its target even for a few thousand documents.
    The result depends only on the seed and the group's set of ids, never on input order or workers.
    """
    whole = np.floor(rates)
    frac = rates - whole
    order = sorted(range(len(ids)), key=lambda i: (doc_seed(seed, ids[i], "upsample"), ids[i]))
    offset = random.Random(doc_seed(seed, group, "upsample-offset")).random()
    running = np.cumsum(frac[order]) + offset
    crossed = np.diff(np.floor(np.concatenate([[offset], running]))).astype(np.int64)
    extra = np.empty(len(ids), dtype=np.int64)
    extra[order] = crossed
    return whole.astype(np.int64) + extra


def expand_repeats(docs: Iterable[Doc]) -> Iterator[Doc]:
    """Physical copies: a document with repeat k becomes ids `<id>#0` .. `<id>#k-1`."""
    for doc in docs:
        body = {k: v for k, v in doc.items() if k != "repeat"}
        for i in range(int(doc.get("repeat", 1))):
            yield {**body, "id": f"{doc['id']}#{i}"}
