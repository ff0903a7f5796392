"""The embedded default is the 7B recipe shrunk: same stage kinds in the same order, the same
ablations, the same curation steps on the web data, and a model of 1-4M parameters with OLMo 3's
layer pattern."""

from pathlib import Path

from olmospec.api import load_spec
from olmospec.graph_stages import build_graph
from olmospec.plan import plan_json

ROOT = Path(__file__).resolve().parents[2]


def _plan(name):
    exp = load_spec(ROOT / "specs" / name)
    return exp, plan_json(build_graph(exp, ROOT))


def _stage_order(exp):
    spec = exp.base
    order, done = [], set()
    while len(order) < len(spec.stages):
        for n, st in sorted(spec.stages.items()):
            if n not in done and (st.after is None or st.after in done):
                order.append(st.kind)
                done.add(n)
    return order


def _base_variant(plan):
    return next(v for v in plan["variants"] if v["name"].split("@")[0] == "base")


def test_same_stage_kinds_in_the_same_order():
    tiny, ptiny = _plan("tiny.ospec")
    big, pbig = _plan("olmo3_7b.ospec")
    assert _stage_order(tiny) == _stage_order(big) == ["pretrain", "midtrain", "longctx", "sft", "dpo", "rlvr"]
    kinds = lambda p: [s["kind"] for s in p["stages"] if s["id"] in _base_variant(p)["stages"]]
    order = lambda ks: [k for i, k in enumerate(ks) if k not in ks[:i]]
    common = {"manifest", "curate", "tokenize", "mix", "train", "dpo", "rlvr", "eval", "report"}
    assert [k for k in order(kinds(ptiny)) if k in common] == [k for k in order(kinds(pbig)) if k in common]


def test_same_ablations_and_a_sweep():
    tiny, _ = _plan("tiny.ospec")
    big, _ = _plan("olmo3_7b.ospec")
    ablations = lambda e: {v.name.split("@")[0] for v in e.variants if v.kind == "ablation"}
    assert ablations(tiny) == ablations(big) >= {"no_dpo", "spurious_reward", "no_quality_upsampling",
                                                 "no_decontamination"}
    assert any(v.kind == "sweep" for v in tiny.variants)
    steps = lambda e: [s.kind for s in e.base.curations["web"].steps]
    assert steps(tiny) == steps(big)


def test_tiny_model_size_and_pattern():
    tiny, plan = _plan("tiny.ospec")
    pre = next(s for s in plan["stages"] if s["name"] == "pretrain")
    assert 1e6 <= pre["params"] <= 4e6
    m = tiny.base.models["tiny"]
    windows = m.layer_windows()
    assert all(w is None for w in windows[3::4]) and all(w is not None for i, w in enumerate(windows) if i % 4 != 3)
    assert m.qk_norm and m.norm_placement == "post"
    assert tiny.base.tokenizers["tiny_bpe"].train.split_digits
