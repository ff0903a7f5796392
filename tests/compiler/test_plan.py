"""The planner's figures against the published OLMo 3 numbers, and stage sharing between variants."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from olmospec.api import load_spec
from olmospec.graph_stages import build_graph
from olmospec.plan import plan_json

ROOT = Path(__file__).resolve().parents[2]


def _plan(name: str) -> dict:
    exp = load_spec(ROOT / "specs" / name)
    return plan_json(build_graph(exp, ROOT))


def _stage(plan, label):
    return [s for s in plan["stages"] if s["name"] == label]


def test_7b_params_and_gpu_hours():
    plan = _plan("olmo3_7b.ospec")
    pre = _stage(plan, "pretrain")
    assert pre, "no pretrain stage"
    for s in pre:
        assert abs(s["params"] - 7.30e9) / 7.30e9 < 0.01
        expected = 5.93e12 / 7700 / 3600  # about 214k H100-hours
        assert abs(s["gpu_hours"] - expected) / expected < 0.05
        assert s["tokens"] == pytest.approx(5.93e12, rel=1e-3)


def test_32b_params():
    plan = _plan("olmo3_32b.ospec")
    for s in _stage(plan, "pretrain"):
        assert abs(s["params"] - 32.23e9) / 32.23e9 < 0.01


def test_plan_json_shape_via_cli():
    out = subprocess.run([sys.executable, "-m", "olmospec.cli", "plan", "specs/olmo3_7b.ospec", "--json"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    plan = json.loads(out)
    assert set(plan) == {"variants", "stages", "total"}
    assert {"name", "stages"} <= set(plan["variants"][0])
    assert {"id", "name", "kind", "variants", "params", "tokens", "flops", "gpu_hours"} <= set(plan["stages"][0])


def test_sharing_every_common_stage_once():
    """In the 7B spec with its ablations, sweep and seeds, a stage common to several variants is one
    stage: ids are unique, and e.g. pretraining is shared by every variant that does not change data."""
    plan = _plan("olmo3_7b.ospec")
    ids = [s["id"] for s in plan["stages"]]
    assert len(ids) == len(set(ids))
    by_id = {s["id"]: s for s in plan["stages"]}
    for v in plan["variants"]:
        for sid in v["stages"]:
            assert v["name"] in by_id[sid]["variants"]
    names = {v["name"] for v in plan["variants"]}
    # pretraining: shared by all variants but the two data ablations (each with 3 seeds)
    pre = sorted(_stage(plan, "pretrain"), key=lambda s: -len(s["variants"]))
    assert len(pre) == 3
    assert len(pre[0]["variants"]) == len(names) - 6
    # the sweep over sft.lr shares pretrain, midtrain and longctx with the base
    base = next(v for v in plan["variants"] if v["name"] == "base@seed1")
    sweep = next(v for v in plan["variants"] if v["name"].startswith("sft_lr[sft.lr=1e-4]") and v["name"].endswith("seed1"))
    kinds = {by_id[i]["name"] for i in set(base["stages"]) & set(sweep["stages"])}
    assert {"pretrain", "midtrain", "longctx"} <= kinds
    assert "sft" not in kinds
    # the distinct stage count is far below the sum over variants
    assert len(ids) < sum(len(v["stages"]) for v in plan["variants"]) / 5


def test_repetition_cap_uses_manifest_when_present(tmp_path):
    import json as _json

    from olmospec.api import load_text
    from olmospec.manifests import check_with_manifests

    text = ('source a { path = "a.jsonl"  tokens = 1M }\nsource b { path = "b.jsonl"  tokens = 1M }\n'
            "mix m {\n  a 50% { max_repeat = 2x }\n  b 50%\n  tokens = 2M\n}\n")
    exp = load_text(text, str(tmp_path / "s.ospec"))
    g = build_graph(exp, tmp_path)
    assert not check_with_manifests(exp, g, tmp_path).errors  # declared: 1M x 2 >= 1M requested
    node = next(n for n in g.nodes.values() if n.label == "manifest-a")
    (tmp_path / node.out_dir).mkdir(parents=True)
    (tmp_path / node.out_dir / "manifest.json").write_text(_json.dumps({"totals": {"tokens": 300_000}}))
    errs = check_with_manifests(exp, g, tmp_path).errors
    assert len(errs) == 1 and "has 300K" in errs[0].message and errs[0].pos.line == 4
