"""Quality-aware upsampling (OLMo 3, §3.4.4): repeat the best documents, drop the worst.

Within each group (a topic, or a source), documents are ranked by quality score and placed on the
token-weighted percentile axis: a document's percentile x is the fraction of the group's tokens with a
lower score (tied scores share one interval, so ties are treated alike). A curve gives the repetition
rate at each percentile:

    f(x) = 0                                      for x < a   (a = drop_below, 0.40)
    f(x) = C * (x - a)**p * exp(lam * (x - a))    for x >= a

and a document's repetition is the mean of f over its percentile interval, so that the expected
number of tokens out is exactly  available_tokens * integral(f). Two constraints fix the curve:

    integral of f over [a, 1]          = target_tokens / available_tokens   (the group's budget)
    mean of f over the top 5% [0.95, 1] = M                                 (max repetition, 7)

`lam` is held fixed (default 0, a power law), `p` is found by bisection (the ratio of the two
constraints is increasing in p) and C then follows. A budget that even a flat curve cannot spend
without repeating the top more than M times is an error naming the group; a budget so small that the
top 5% cannot reach M is met with the steepest curve allowed (`p_max`), flagged in the stats.

Fractional repetitions are rounded stochastically and unbiasedly (systematic rounding in an order set
by hashes of (seed, document id), see `_round`), so the result does not depend on document order or
worker count and the realized token total stays close to the target. Output: kept documents carry an integer
`repeat` field (>= 1); `expand_repeats` turns them into copies with ids `<id>#k` when a consumer
needs physical copies. Documents below the threshold are removed with reason
"below_quality_threshold", documents whose repetition rounds to 0 with "rounded_to_zero".
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from runners.curation.base import Doc, Removed, StepResult, doc_seed

TOP = 0.05
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(64)


class UpsampleError(ValueError):
    """A group's token target cannot be met under the repetition cap."""


@dataclass(frozen=True, slots=True)
class Curve:
    """f(x) = C (x-a)^p exp(lam (x-a)) on [a, 1], written in a scaled form for numerical range."""

    a: float
    c: float
    p: float
    lam: float

    def _g(self, x: np.ndarray) -> np.ndarray:
        # NOTE: (x-a)/(1-a) stays in [0, 1], so large p underflows gracefully instead of the raw
        # (x-a)^p being ~1e-30 while C is ~1e30. `c` multiplies this scaled shape.
        u = np.clip((x - self.a) / (1.0 - self.a), 0.0, 1.0)
        return u**self.p * np.exp(self.lam * (1.0 - self.a) * (u - 1.0))

    def integral(self, lo: np.ndarray | float, hi: np.ndarray | float) -> np.ndarray:
        """Integral of f over [lo, hi] (elementwise), by 64-point Gauss-Legendre on [max(lo,a), hi]."""
        lo = np.maximum(np.asarray(lo, dtype=np.float64), self.a)
        hi = np.maximum(np.asarray(hi, dtype=np.float64), lo)
        half = (hi - lo)[..., None] / 2
        x = (lo + hi)[..., None] / 2 + half * _NODES
        return self.c * (half * _WEIGHTS * self._g(x)).sum(-1)

    def mean(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Mean of f over each [lo, hi]; f itself where the interval is empty (zero-token docs)."""
        width = hi - lo
        safe = np.where(width > 0, width, 1.0)
        point = self.c * self._g(lo) * (lo >= self.a)
        return np.where(width > 0, self.integral(lo, hi) / safe, point)


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


def _upsample_group(name, docs, result, ratio, target_tokens, drop_below, max_repeat, lam, seed,
                    score_field, tokens_of) -> dict:
    tokens = np.array([tokens_of(d) for d in docs], dtype=np.int64)
    scores = np.array([float(d[score_field]) for d in docs])
    available = int(tokens.sum())
    r = _per_group(ratio, name)
    if r is None:
        r = _per_group(target_tokens, name) / available if available else 0.0
    lo, hi = percentile_intervals(scores, tokens)
    keep = lo >= drop_below
    start = float(lo[keep].min()) if keep.any() else 1.0
    if keep.any() and start < 1.0:
        curve, reached = fit_curve(r, start, drop_below, max_repeat, lam, group=name)
    else:
        curve, reached = Curve(drop_below, 0.0, 0.0, lam), False
    rates = curve.mean(lo, hi)
    repeats = _round(rates * keep, [str(d["id"]) for d in docs], seed, name)
    realized = 0
    for doc, k, rate, repeat, n_tok in zip(docs, keep, rates, repeats, tokens, strict=True):
        if not k:
            result.removed.append(Removed(str(doc["id"]), "below_quality_threshold",
                                          f"group={name} score={doc[score_field]:.4g}"))
        elif repeat == 0:
            result.removed.append(Removed(str(doc["id"]), "rounded_to_zero", f"group={name} rate={rate:.3g}"))
        else:
            realized += int(repeat) * int(n_tok)
            result.kept.append({**doc, "repeat": int(repeat)})
    top = lo >= 1.0 - TOP
    return {
        "available_tokens": available,
        "target_tokens": r * available,
        "expected_tokens": float((rates * tokens).sum()),
        "realized_tokens": realized,
        "curve": {"a": curve.a, "C": curve.c, "p": curve.p, "lam": curve.lam, "start": start},
        "top_mean_repeat_expected": float(np.average(rates[top], weights=tokens[top]))
        if tokens[top].sum() else None,
        "top_mean_reached": reached,
    }


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
