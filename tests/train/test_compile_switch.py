"""`runtime { compile = true }` compiles every transformer block of the model the training runner
builds (read back from the model, as the stage's receipt reports it); off by default. The blocks
compile lazily, at their first forward pass, so this test builds the stage and trains no step."""

from __future__ import annotations

from train_helpers import make_config

from runners.train.launch import setup
from runners.train.loop import Stage


def test_compile_switch_compiles_every_block(tmp_path, tokenizer_dir, shards):
    def compiled(**runtime) -> int:
        cfg = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)], runtime=runtime)
        return Stage(cfg, setup(cfg.runtime)).effective_runtime()["compiled_layers"]

    assert compiled() == 0
    assert compiled(compile=True) == 2  # tiny_model has two layers
