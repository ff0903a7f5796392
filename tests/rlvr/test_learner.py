"""The learner starts as exactly the policy it was given: a stage exported with YaRN (as every
stage after long-context extension is) must give the same logits once loaded as RL's learner.
(A learner rebuilt from the model block alone dropped YaRN and started from another model.)"""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))

from train_helpers import build_tokenizer

from olmospec.ir.model import ModelConfig, YarnConfig
from olmospec.ir.rlvr import RlvrConfig
from olmospec.ir.train import OptimizerConfig, ScheduleConfig, TrainRuntime


def test_learner_keeps_the_exported_architecture(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from runners.rlvr.learner import Learner
    from runners.train.launch import setup
    from runners.train.model import build_meta, hf_config, init_weights, materialize

    tok = AutoTokenizer.from_pretrained(build_tokenizer(tmp_path / "tok"))
    mc = ModelConfig(name="t", d_model=32, n_layers=2, n_heads=2, n_kv_heads=2, mlp_hidden=64, vocab_size=300,
                     vocab_pad_to=64, attention_pattern=(16, None))
    yarn = YarnConfig(factor=4, original_context=16)
    model = materialize(build_meta(hf_config(mc, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id, max_positions=64,
                                             yarn=yarn)), "cpu")
    init_weights(model, 0.02, seed=0)
    model.save_pretrained(tmp_path / "init/hf")
    tok.save_pretrained(tmp_path / "init/hf")
    cfg = RlvrConfig(stage_id="t", model=mc, tokenizer=str(tmp_path / "tok"), init_from=str(tmp_path / "init"),
                     prompts={"kind": "source", "path": "-"}, rewards=("math",), steps=1,
                     optimizer=OptimizerConfig(lr=1e-6), schedule=ScheduleConfig(kind="constant"),
                     output=str(tmp_path / "out"), runtime=TrainRuntime(device="cpu", threads=1))
    learner = Learner(cfg, setup(cfg.runtime), tok)
    ref = AutoModelForCausalLM.from_pretrained(tmp_path / "init/hf").eval()
    ids = torch.randint(2, 300, (2, 60), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(learner.model.eval()(input_ids=ids).logits, ref(input_ids=ids).logits)
