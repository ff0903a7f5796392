"""`minibatches = N` splits each GRPO batch into N optimizer updates (one by default), each on its
share of the completions; read back from AdamW's step count after one learner step."""

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from train_helpers import build_tokenizer, tiny_model

from olmospec.ir.rlvr import RlvrConfig
from olmospec.ir.train import OptimizerConfig, ScheduleConfig, TrainRuntime


@pytest.fixture(scope="module")
def start(tmp_path_factory):
    """A tiny exported policy to start RL from, with its tokenizer."""
    from transformers import AutoTokenizer

    from runners.train.model import build_meta, hf_config, init_weights, materialize

    path = tmp_path_factory.mktemp("rl")
    tok = AutoTokenizer.from_pretrained(build_tokenizer(path / "tok"))
    mc = tiny_model()
    model = materialize(
        build_meta(hf_config(mc, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_positions=64)), "cpu"
    )
    init_weights(model, 0.02, seed=0)
    model.save_pretrained(path / "init/hf")
    tok.save_pretrained(path / "init/hf")
    return path, mc, tok


def _updates(start, minibatches: int) -> int:
    from runners.rlvr.learner import Learner
    from runners.rlvr.sampling import Group
    from runners.train.launch import setup

    path, mc, tok = start
    cfg = RlvrConfig(
        stage_id="t",
        model=mc,
        tokenizer=str(path / "tok"),
        init_from=str(path / "init"),
        prompts={"kind": "source", "path": "-"},
        rewards=("math",),
        steps=1,
        minibatches=minibatches,
        optimizer=OptimizerConfig(lr=1e-3),
        schedule=ScheduleConfig(kind="constant"),
        output=str(path / "out"),
        runtime=TrainRuntime(device="cpu", threads=1),
    )
    learner = Learner(cfg, setup(cfg.runtime), tok)
    done = SimpleNamespace(token_ids=[11, 12, 13], logprobs=[-2.0, -2.0, -2.0])
    other = SimpleNamespace(token_ids=[14, 15], logprobs=[-2.0, -2.0])
    groups = [
        Group(prompt=i, prompt_ids=[5, 6, 7 + i], completions=[done, other], rewards=[1.0, 0.0], kind="math")
        for i in range(4)
    ]
    learner.step(0, groups)
    return {int(s["step"]) for s in learner.optimizer.state.values()}.pop()


def test_minibatches_is_the_number_of_updates_per_batch(start):
    assert _updates(start, 1) == 1
    assert _updates(start, 2) == 2
