"""Quality-aware upsampling: threshold, top-5% multiplicity, token budget, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from runners.curation.upsample import (
    Curve,
    UpsampleError,
    expand_repeats,
    fit_curve,
    percentile_intervals,
    upsample,
)


def _docs(n: int = 20_000, seed: int = 0, topics=("science", "sports")) -> list[dict]:
    rng = np.random.default_rng(seed)
    tokens = rng.integers(50, 1500, size=n)
    scores = rng.beta(2, 5, size=n)
    return [
        {"id": f"d{i}", "text": "", "n_tokens": int(t), "quality": float(s), "topic": topics[i % len(topics)]}
        for i, (t, s) in enumerate(zip(tokens, scores, strict=True))
    ]


def _token_percentile(docs: list[dict]) -> dict[str, float]:
    """Reference: fraction of the group's tokens with a strictly lower score, by brute force."""
    out = {}
    for topic in {d["topic"] for d in docs}:
        group = [d for d in docs if d["topic"] == topic]
        scores = np.array([d["quality"] for d in group])
        tokens = np.array([d["n_tokens"] for d in group])
        for start in range(0, len(group), 1000):
            below = np.less.outer(scores, scores[start : start + 1000])  # [other, this]
            lower = (below * tokens[:, None]).sum(0) / tokens.sum()
            out.update(zip((d["id"] for d in group[start : start + 1000]), lower.tolist(), strict=True))
    return out


@pytest.mark.parametrize("ratio", [0.8, 1.5, 3.0])
def test_threshold_top_mean_and_budget(ratio):
    docs = _docs()
    result = upsample(docs, ratio=ratio, seed=3)
    pct = _token_percentile(docs)
    kept = {d["id"]: d for d in result.kept}
    assert all(pct[i] >= 0.40 for i in kept)  # nothing from the token-weighted bottom 40%
    below = {r.id for r in result.removed if r.reason == "below_quality_threshold"}
    assert below == {d["id"] for d in docs if pct[d["id"]] < 0.40}
    assert len(result.kept) + len(result.removed) == len(docs)
    for topic, stats in result.stats["groups"].items():
        group = [d for d in docs if d["topic"] == topic]
        available = sum(d["n_tokens"] for d in group)
        realized = sum(kept[d["id"]]["repeat"] * d["n_tokens"] for d in group if d["id"] in kept)
        assert realized == stats["realized_tokens"]
        assert abs(realized - ratio * available) <= 0.01 * ratio * available
        top = [d for d in group if pct[d["id"]] >= 0.95]
        top_mean = sum(kept[d["id"]]["repeat"] * d["n_tokens"] for d in top) / sum(d["n_tokens"] for d in top)
        assert abs(top_mean - 7.0) <= 0.7, top_mean
        assert stats["top_mean_reached"]


def test_target_tokens_per_group_and_determinism():
    docs = _docs(6000, seed=1)
    avail = {t: sum(d["n_tokens"] for d in docs if d["topic"] == t) for t in ("science", "sports")}
    targets = {"science": avail["science"] * 2, "sports": avail["sports"] // 2}
    a = upsample(docs, target_tokens=targets, seed=9)
    b = upsample(list(reversed(docs)), target_tokens=targets, seed=9)
    assert sorted((d["id"], d["repeat"]) for d in a.kept) == sorted((d["id"], d["repeat"]) for d in b.kept)
    def removed(result):
        return sorted((r.id, r.reason, r.detail) for r in result.removed)

    assert removed(a) == removed(b)
    c = upsample(docs, target_tokens=targets, seed=10)
    assert sorted((d["id"], d["repeat"]) for d in a.kept) != sorted((d["id"], d["repeat"]) for d in c.kept)
    for topic, target in targets.items():
        realized = a.stats["groups"][topic]["realized_tokens"]
        assert abs(realized - target) <= 0.01 * target


def test_curve_constraints_hold_exactly():
    for ratio, lam in [(1.0, 0.0), (2.0, 0.0), (1.0, 3.0)]:
        curve, reached = fit_curve(ratio, 0.40, lam=lam)
        assert reached
        assert curve.integral(0.40, 1.0) == pytest.approx(ratio, rel=1e-9)
        assert curve.integral(0.95, 1.0) / 0.05 == pytest.approx(7.0, rel=1e-6)
        xs = np.linspace(0.40, 1.0, 50)
        assert np.all(np.diff(curve.mean(xs[:-1], xs[1:])) >= 0)  # higher quality, more repeats


def test_grid_integral_matches_closed_form():
    lo, hi = np.array([0.3, 0.41, 0.7, 0.95, 0.999]), np.array([0.5, 0.42, 0.9, 1.0, 1.0])
    for p in (0.0, 1.5, 6.0, 40.0):
        exact = Curve(0.4, 2.0, p, 0.0).integral(lo, hi)
        grid = Curve(0.4, 2.0, p, 1e-12).integral(lo, hi)
        assert np.allclose(grid, exact, rtol=1e-5, atol=1e-12)


def test_infeasible_and_tiny_budgets():
    with pytest.raises(UpsampleError, match="group 'web'"):
        fit_curve(5.0, 0.40, group="web")  # a flat curve at 7x over the top 60% gives at most 4.2x
    curve, reached = fit_curve(0.05, 0.40)  # top 5% at 7x alone needs 0.35x
    assert not reached and curve.integral(0.40, 1.0) == pytest.approx(0.05)


def test_ties_share_an_interval_and_drops_are_explained():
    lo, hi = percentile_intervals(np.array([0.5, 0.1, 0.5, 0.9]), np.array([10, 10, 20, 60]))
    assert lo.tolist() == [0.1, 0.0, 0.1, 0.4] and hi.tolist() == [0.4, 0.1, 0.4, 1.0]
    scores = (0.1, 0.2, 0.3)
    docs = [{"id": str(i), "text": "w " * 10, "quality": q, "topic": "t"} for i, q in enumerate(scores)]
    result = upsample(docs, ratio=0.01, seed=0)
    assert {r.reason for r in result.removed} <= {"below_quality_threshold", "rounded_to_zero"}
    assert len(result.kept) + len(result.removed) == 3
    assert Curve(0.4, 1.0, 1.0, 0.0).mean(np.array([0.1]), np.array([0.3]))[0] == 0.0


def test_expand_repeats_names_copies():
    docs = [{"id": "a", "text": "x", "repeat": 3}, {"id": "b", "text": "y", "repeat": 1}]
    copies = list(expand_repeats(docs))
    assert [c["id"] for c in copies] == ["a#0", "a#1", "a#2", "b#0"]
    assert all("repeat" not in c for c in copies)
