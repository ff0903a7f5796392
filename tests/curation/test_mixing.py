"""Mixing: realized plan vs request, caps (error or rescale), document-level sampling, outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from runners.curation.mixing import (
    MixError,
    plan_mix,
    sample_documents,
    shard_documents,
    shard_tokens,
    write_plan,
)

AVAILABLE = {"web": 8_000_000, "code": 1_000_000, "math": 300_000, "wiki": 50_000}
SHARES = {"web": 0.76, "code": 0.14, "math": 0.08, "wiki": 0.02}


def test_plan_meets_shares_and_budget_within_caps():
    plan = plan_mix(AVAILABLE, SHARES, budget=5_000_000, caps={"web": 1, "code": 1, "math": 4, "wiki": 2})
    rows = {r["source"]: r for r in plan.rows}
    assert abs(plan.realized_total - 5_000_000) <= len(rows)
    for name, share in SHARES.items():
        assert rows[name]["realized_tokens"] == rows[name]["requested_tokens"]
        assert rows[name]["share_realized"] == pytest.approx(share, abs=1e-6)
        assert rows[name]["epochs"] <= rows[name]["max_repetition"] + 1e-9
    assert rows["math"]["epochs"] == pytest.approx(400_000 / 300_000)
    assert plan.flags == []


def test_cap_violation_names_the_source():
    with pytest.raises(MixError, match=r"source 'wiki'.*max repetition 1"):
        plan_mix(AVAILABLE, SHARES, budget=5_000_000, caps={"web": 1, "code": 1, "math": 4, "wiki": 1})
    with pytest.raises(MixError, match="sum to"):
        plan_mix(AVAILABLE, {"web": 0.5}, budget=10)
    with pytest.raises(MixError, match="no token count"):
        plan_mix(AVAILABLE, {"pdf": 1.0}, budget=10)


def test_rescale_policy_caps_and_redistributes():
    caps = {"web": 2, "code": 1, "math": 1, "wiki": 1}
    plan = plan_mix(AVAILABLE, SHARES, budget=5_000_000, caps=caps, policy="rescale")
    rows = {r["source"]: r for r in plan.rows}
    assert rows["wiki"]["capped"] and rows["math"]["capped"] and not rows["web"]["capped"]
    assert rows["wiki"]["realized_tokens"] == 50_000 and rows["math"]["realized_tokens"] == 300_000
    assert abs(plan.realized_total - 5_000_000) <= len(rows)
    # the shortfall goes to web and code in proportion 0.76 : 0.14
    ratio = rows["web"]["realized_tokens"] / rows["code"]["realized_tokens"]
    assert ratio == pytest.approx(0.76 / 0.14, rel=1e-6)
    assert any("capped and rescaled: math, wiki" in f for f in plan.flags)
    short = plan_mix(AVAILABLE, SHARES, budget=50_000_000, caps=1, policy="rescale")
    assert short.realized_total == sum(AVAILABLE.values())
    assert any("budget shortfall" in f for f in short.flags)


def test_document_sampling_is_deterministic_and_covers_target():
    rng = np.random.default_rng(0)
    docs = [(f"doc{i}", int(t)) for i, t in enumerate(rng.integers(10, 500, size=3000))]
    available = sum(t for _, t in docs)
    sizes = dict(docs)
    for target in (available // 3, available, int(available * 2.4)):
        plan = sample_documents(docs, target, seed=4, source="math")
        realized = sum(sizes[i] * c for i, c in plan)
        assert target <= realized < target + 500
        counts = [c for _, c in plan]
        assert max(counts) - min(counts) <= 1  # whole epochs first, then one more for some
        assert plan == sample_documents(list(reversed(docs)), target, seed=4, source="math")
    assert sample_documents(docs, available // 3, seed=5, source="math") != sample_documents(
        docs, available // 3, seed=4, source="math")


def test_writes_json_and_markdown_and_reads_shards(tmp_path):
    plan = plan_mix(AVAILABLE, SHARES, budget=1_000_000, caps=2)
    js, md = write_plan(plan, tmp_path)
    data = json.loads(js.read_text())
    assert data["budget"] == 1_000_000 and len(data["sources"]) == 4
    assert "| web |" in md.read_text() and "Budget 1,000,000 tokens" in md.read_text()
    shard = tmp_path / "shard"
    shard.mkdir()
    np.save(shard / "offsets.npy", np.array([0, 5, 9, 20], dtype=np.int64))
    (shard / "meta.json").write_text(json.dumps({"n_tokens": 20}))
    assert shard_documents(shard) == [("0", 5), ("1", 4), ("2", 11)]
    assert shard_tokens(shard) == 20
