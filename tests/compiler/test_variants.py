"""Ablations (set, off, drop with rewiring, replace), sweeps and seeds."""

import pytest

from olmospec.api import load_text
from olmospec.errors import SpecErrors
from tests.compiler.flow import FLOW


def variants(extra: str):
    return {v.name: v for v in load_text(FLOW + extra, "flow.ospec").variants}


def test_drop_rewires_successor_and_evals():
    v = variants("ablation no_sft { drop sft }")["no_sft"].spec
    assert "sft" not in v.stages
    assert v.stages["rlvr"].after == "pretrain"
    assert v.evals["e"].after == ("pretrain", "rlvr")


def test_drop_post_training_with_its_eval_in_any_order():
    """A data ablation that stops at the base model: the stages and the eval that only they feed go,
    written in any order; an unseeded variant ignores a seeds_from stage it dropped."""
    text = FLOW + "eval b after pretrain { tasks = [math] }\nseeds = [1, 2] for [base]\nseeds_from = rlvr\n"
    for drops in ("drop sft  drop rlvr  drop e", "drop e  drop rlvr  drop sft"):
        vs = {v.name: v for v in load_text(text + f"ablation base_only {{ {drops} }}", "f.ospec").variants}
        v = vs["base_only"].spec
        assert set(v.stages) == {"pretrain"} and set(v.evals) == {"b"}
        assert {"base@seed1", "base@seed2"} <= set(vs)


def test_dropping_what_an_eval_needs_says_to_drop_the_eval():
    with pytest.raises(SpecErrors) as info:
        load_text(FLOW + "ablation x { drop pretrain  drop sft  drop rlvr }", "flow.ospec")
    err = info.value.errors[0]
    assert "leaves eval 'e' after nothing" in err.message and err.hint == "drop it too: 'drop e'"


def test_a_seeded_variant_must_keep_its_seeds_from_stage():
    with pytest.raises(SpecErrors) as info:
        load_text(FLOW + "seeds = [1, 2] for [x]\nseeds_from = rlvr\nablation x { drop rlvr }", "flow.ospec")
    assert "drops stage 'rlvr' (seeds_from) but runs with several seeds" in info.value.errors[0].message


def test_set_and_off():
    v = variants("ablation a { sft.lr = 5e-4  web.minhash = off  pre.web = 70%  pre.code = 30% }")["a"].spec
    assert v.stages["sft"].optimizer.lr == 5e-4
    assert [s.kind for s in v.curations["web"].steps] == ["exact", "decontaminate"]
    assert [e.share for e in v.mixes["pre"].entries] == [0.7, 0.3]


def test_replace_block():
    v = variants("ablation wide { replace m { d_model = 128  layers = 2  heads = 4  mlp = 512  tokenizer = tok } }")
    assert v["wide"].spec.models["m"].d_model == 128
    assert v["base"].spec.models["m"].d_model == 64


def test_sweep_is_a_cartesian_product():
    vs = variants("sweep s { sft.lr = [1e-4, 2e-4]  rlvr.steps = [5, 10, 20] }")
    names = [n for n in vs if n.startswith("s[")]
    assert len(names) == 6
    assert vs["s[sft.lr=2e-4,rlvr.steps=20]"].spec.stages["rlvr"].steps == 20


def test_seeds_from_shares_earlier_stages():
    vs = variants("seeds = [1, 2]\nseeds_from = rlvr")
    a, b = vs["base@seed1"].spec, vs["base@seed2"].spec
    assert a.stages["sft"].seed == b.stages["sft"].seed
    assert (a.stages["rlvr"].seed, b.stages["rlvr"].seed) == (1, 2)


def test_ablation_errors_point_at_the_ablation():
    with pytest.raises(SpecErrors) as info:
        load_text(FLOW + "\nablation bad {\n  sft.lrr = 1\n}\n", "flow.ospec")
    err = info.value.errors[0]
    assert "in ablation 'bad'" in err.message and "did you mean 'lr'" in err.message
    assert err.pos.line == FLOW.count("\n") + 3


def test_ablation_edits_the_spelling_the_block_uses():
    text = FLOW.replace("lr = 1e-3\n  schedule cosine", "optimizer adamw { lr = 1e-3 }\n  schedule cosine")
    vs = {v.name: v for v in load_text(text + "sweep s { pretrain.lr = [1e-3, 3e-3] }", "f.ospec").variants}
    assert vs["s[pretrain.lr=3e-3]"].spec.stages["pretrain"].optimizer.lr == 3e-3


def test_two_spellings_of_one_setting_is_an_error():
    text = FLOW.replace("lr = 1e-3\n  schedule cosine", "lr = 1e-3  optimizer adamw { lr = 2e-3 }\n  schedule cosine")
    with pytest.raises(SpecErrors) as info:
        load_text(text, "f.ospec")
    assert "'lr' is set twice" in str(info.value)


def test_dedup_group_is_ambiguous():
    with pytest.raises(SpecErrors) as info:
        load_text(FLOW + "ablation a { web.dedup = off }", "f.ospec")
    assert "names several steps" in str(info.value)


def test_report_columns_and_baseline_are_checked():
    bad = FLOW + "report r { columns = [mathh]  baseline = bse }"
    with pytest.raises(SpecErrors) as info:
        load_text(bad, "f.ospec")
    text = str(info.value)
    assert "column 'mathh' is no task an eval runs; did you mean 'math'?" in text
    assert "unknown baseline variant 'bse'; did you mean 'base'?" in text


def test_seeds_cannot_vary_a_stage_with_its_own_seed():
    text = FLOW.replace("epochs = 2  lr = 1e-3", "epochs = 2  seed = 7  lr = 1e-3") + "seeds = [1, 2]\n"
    with pytest.raises(SpecErrors) as info:
        load_text(text, "f.ospec")
    assert "stage 'sft' sets its own seed" in str(info.value)
    load_text(text + "seeds_from = rlvr\n", "f.ospec")  # after sft: fine


def test_upsample_needs_quality_first():
    text = FLOW.replace("  decontaminate { against = evals", "  upsample { drop_below = 40% }\n  decontaminate { against = evals")
    with pytest.raises(SpecErrors) as info:
        load_text(text, "f.ospec")
    assert "needs a 'quality' step before it" in str(info.value)


def test_every_addressing_rule_of_the_language_reference():
    """The paths docs/LANGUAGE.md lists ("What an ablation's path addresses") do what it says."""
    v = variants("""
ablation paths {
  pretrain.schedule = linear
  pretrain.schedule.warmup = 5%
  sft.runtime.throughput = 800 tok/s/gpu
  pre.web = 70%
  pre.code = 30%
  pre.code.max_repeat = 2x
  web.minhash.threshold = 0.7
  web.decontaminate = off
}
ablation new_entry { pre.web = 70%  pre.chat = 10% }
ablation no_code { pre.code = off  pre.web = 100% }
""")
    s = v["paths"].spec
    assert s.stages["pretrain"].schedule.kind == "linear" and s.stages["pretrain"].schedule.warmup == ("fraction", 0.05)
    assert s.stages["sft"].runtime.throughput == 800
    assert [(e.name, e.share, e.max_repeat) for e in s.mixes["pre"].entries] == [("web", 0.7, None), ("code", 0.3, 2.0)]
    assert [st.kind for st in s.curations["web"].steps] == ["exact", "minhash"]
    assert s.curations["web"].steps[1].threshold == 0.7
    assert [(e.name, e.share) for e in v["new_entry"].spec.mixes["pre"].entries] == [("web", 0.7), ("code", 0.2),
                                                                                     ("chat", 0.1)]
    assert [e.name for e in v["no_code"].spec.mixes["pre"].entries] == ["web"]


SEEDED = """
ablation spurious { rlvr.rewards = [random] }
ablation no_sft { drop sft }
sweep s { sft.lr = [1e-3, 2e-3] }
seeds = [1, 2, 3] for [base, spurious]
seeds_from = rlvr
"""


def _graph(text: str):
    from pathlib import Path

    from olmospec.graph_stages import build_graph

    return build_graph(load_text(FLOW + text, "flow.ospec"), Path("."))


def test_seeds_for_chosen_variants_only():
    vs = variants(SEEDED)
    assert list(vs) == ["base@seed1", "base@seed2", "base@seed3", "spurious@seed1", "spurious@seed2",
                        "spurious@seed3", "no_sft", "s[sft.lr=1e-3]", "s[sft.lr=2e-3]"]
    # a variant without seeds runs as the first seed would, everywhere
    assert vs["no_sft"].seed == 1 and {st.seed for st in vs["no_sft"].spec.stages.values()} == {1}
    assert [vs[f"spurious@seed{i}"].spec.stages["rlvr"].seed for i in (1, 2, 3)] == [1, 2, 3]
    # a sweep name seeds every point; a point (a string) only itself
    both = variants(SEEDED.replace("for [base, spurious]", "for [s]"))
    assert {n for n in both if n.startswith("s[")} == {f"s[sft.lr={lr}]@seed{i}" for lr in ("1e-3", "2e-3")
                                                      for i in (1, 2, 3)}
    one = variants(SEEDED.replace("for [base, spurious]", 'for ["s[sft.lr=2e-3]"]'))
    assert "s[sft.lr=1e-3]" in one and "s[sft.lr=2e-3]@seed3" in one and "base" in one


def test_seeds_for_shares_every_stage_before_seeds_from():
    g = _graph(SEEDED)
    ids = {v: set(i) for v, i in g.variants.items()}
    by_label = lambda v, label: {i for i in ids[v] if g.nodes[i].label == label}
    # one pretrain for all variants; one sft for every variant that keeps the base's sft
    assert len({i for v in ids for i in by_label(v, "pretrain")}) == 1
    assert len({i for v in g.variants if v != "s[sft.lr=2e-3]" for i in by_label(v, "sft")}) == 1
    # one rlvr per seed and reward; the unseeded variants' rlvr is the first seed's
    assert len({i for v in ids if v.startswith(("base@", "spurious@")) for i in by_label(v, "rlvr")}) == 6
    assert ids["s[sft.lr=1e-3]"] == ids["base@seed1"]  # the sweep point equal to the base runs nothing new
    # seeding one more variant keeps its first seed's stages and adds only its other seeds' RL and evals
    more = _graph(SEEDED.replace("for [base, spurious]", "for [base, spurious, no_sft]"))
    assert set(more.variants["no_sft@seed1"]) == ids["no_sft"]
    assert sorted(more.nodes[i].label for i in set(more.nodes) - set(g.nodes)) == ["eval-e-rlvr"] * 2 + ["rlvr"] * 2
    # with `for` removed every variant is seeded, and the seeded ones keep their stages
    every = _graph(SEEDED.replace(" for [base, spurious]", ""))
    assert all(set(every.variants[v]) == i for v, i in ids.items() if "@" in v)
    assert set(every.variants["no_sft@seed1"]) == ids["no_sft"]


def test_a_report_holds_variants_with_one_seed_and_with_three(tmp_path):
    """The compiled report config of `seeds ... for [base, spurious]` has three rows for each seeded
    variant and one for the others; the table shows mean and sd over the three, a plain value (no
    sd) for one seed, and a delta against the seeded baseline for both."""
    import json

    from olmospec.report import build_table

    g = _graph(SEEDED + "report r { columns = [math]  baseline = base }\n")
    cfg = next(n for n in g.nodes.values() if n.kind == "report").config
    assert sorted((r["group"], r["seed"]) for r in cfg["rows"] if r["group"] in ("base", "no_sft")) == [
        ("base", 1), ("base", 2), ("base", 3), ("no_sft", 1)]
    for k, ev in enumerate(e for r in cfg["rows"] for e in r["evals"]):  # item scores, different per eval
        d = tmp_path / ev["dir"]
        d.mkdir(parents=True, exist_ok=True)
        scores = [float((i * 7 + k) % 3 == 0) for i in range(60)]
        (d / "metrics.json").write_text(json.dumps({"tasks": {"math": {"metric": "exact_match",
                                                                       "value": sum(scores) / 60}}}))
        (d / "scores.json").write_text(json.dumps({"math": {"ids": [f"q{i}" for i in range(60)],
                                                            "exact_match": scores}}))
    rows = {r.label: r for r in build_table(cfg, tmp_path).rows}
    assert rows["base"].seeds == [1, 2, 3] and rows["spurious"].seeds == [1, 2, 3] and rows["no_sft"].seeds == [1]
    base, one = rows["base"].cells["math"], rows["no_sft"].cells["math"]
    assert len(base.values) == 3 and base.sd is not None and base.delta is None
    assert len(one.values) == 1 and one.sd is None and one.delta is not None
    assert rows["spurious"].cells["math"].delta is not None
