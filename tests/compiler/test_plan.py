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
    assert set(plan) == {"gpu", "variants", "stages", "total", "groups"}
    assert {"name", "stages"} <= set(plan["variants"][0])
    assert {"id", "name", "kind", "runner", "variants", "params", "tokens", "flops", "mfu", "gpu_hours"} \
        <= set(plan["stages"][0])
    assert {"name", "variants", "total", "beyond_base"} <= set(plan["groups"][0])


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


@pytest.mark.parametrize("name", ["olmo3_7b.ospec", "olmo3_32b.ospec"])
def test_recipes_price_every_stage_that_runs_a_model(name):
    plan = _plan(name)
    assert plan["total"]["unpriced"] == []
    for s in plan["stages"]:
        if s["params"] is not None:
            assert s["gpu_hours"] and s["throughput"], s["id"]
    pre = _stage(plan, "pretrain")[0]
    assert 0.3 < pre["mfu"] < 0.5  # the published ~43% (7B) and ~41% (32B), by our FLOP convention
    assert plan["gpu"] == {"name": "H100", "peak_bf16_flops": 989.4e12}


def test_unpriced_stages_are_listed_beside_every_total():
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "plan", "specs/tiny.ospec"], cwd=ROOT,
                       capture_output=True, text=True, check=True).stdout
    assert "not priced: 19 stages have no throughput (no GPU-hours): pretrain x3, midtrain x3, longctx x3, sft, dpo, rlvr x8" in r
    rows = [line for line in r.splitlines() if line.startswith(("base ", "no_dpo "))]
    assert len(rows) == 2 and all("pretrain" in line or "rlvr" in line for line in rows), rows
    v = subprocess.run([sys.executable, "-m", "olmospec.cli", "plan", "specs/tiny.ospec", "--variant", "no_dpo"],
                       cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "own total:" in v and "have no throughput" in v.split("own total:")[1]


POST = """
tokenizer t { path = "tok"  vocab = 256 }
model m { d_model = 64  layers = 2  heads = 4  mlp = 128  tokenizer = t }
source web { path = "w.jsonl"  tokens = 1M }
source chat { path = "chat.jsonl"  tokens = 2M }
source prompts { path = "p.jsonl"  docs = 1000 }
mix pre { web 100% }
stage pretrain { model = m  data = pre  tokens = 1M  seq = 64  batch = 8 seqs  lr = 1e-3
  runtime { throughput = 1000 tok/s/gpu } }
stage sft after pretrain { data = chat  epochs = 2  lr = 1e-4  runtime { throughput = 500 tok/s/gpu } }
stage dpo after sft { prompts = prompts  pairs = delta(chosen = sft, rejected = pretrain)  lr = 1e-6  epochs = 1
  seq = 128  batch = 8 seqs }
stage rlvr after dpo { prompts = prompts  rewards = [math]  steps = 10  prompts_per_batch = 4  group = 2
  max_response = 32 tokens  lr = 1e-6 }
"""


def test_post_training_tokens_from_manifests_declared_sizes_and_budgets(tmp_path):
    from olmospec.api import load_text

    exp = load_text(POST, str(tmp_path / "s.ospec"))
    by = lambda p, n: next(s for s in p["stages"] if s["name"] == n)
    plan = plan_json(build_graph(exp, tmp_path))
    assert by(plan, "sft")["tokens"] == 4_000_000  # declared 2M x 2 epochs
    assert by(plan, "sft")["gpu_hours"] == pytest.approx(4e6 / 500 / 3600)
    assert by(plan, "dpo")["tokens"] == 1000 * 2 * 128  # the prompts' documents, two responses each
    assert by(plan, "rlvr")["tokens"] == 10 * 4 * 2 * 32
    # once the source's manifest stage has run, its token count replaces the declared size
    g = build_graph(exp, tmp_path)
    m = next(n for n in g.nodes.values() if n.label == "manifest-chat")
    (tmp_path / m.out_dir).mkdir(parents=True)
    (tmp_path / m.out_dir / "manifest.json").write_text(json.dumps({"totals": {"tokens": 123_456, "docs": 10}}))
    plan = plan_json(build_graph(exp, tmp_path))
    assert by(plan, "sft")["tokens"] == 2 * 123_456
    unpriced = {u["name"] for u in plan["total"]["unpriced"]}
    assert unpriced == {"dpo", "rlvr"}
