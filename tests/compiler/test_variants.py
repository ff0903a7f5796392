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
