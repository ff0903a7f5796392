"""Stage assembly without a subprocess: launcher arguments, runtime-only flags that must not change the
numbers, input checks that fail with one clear line, and what identifies a stage."""

from __future__ import annotations

import gzip
import json

import pytest
import torch
from train_helpers import make_config, run_runner, tiny_model, write_config

from olmospec.ir.train import DataComponent, TrainRuntime
from runners.train.errors import StageError
from runners.train.launch import setup, torchrun_argv
from runners.train.loop import Stage
from runners.train.metrics import config_hash, peak_flops
from runners.train.sft import ChatData


def test_torchrun_argv_single_and_multi_node():
    one = torchrun_argv(TrainRuntime(nproc_per_node=4), "c.json", {})
    assert one[1:] == [
        "-m", "torch.distributed.run", "--nproc_per_node=4", "--standalone",
        "-m", "runners.train", "--config", "c.json",
    ]  # fmt: skip
    env = {"MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234", "NODE_RANK": "3"}
    multi = torchrun_argv(TrainRuntime(nnodes=4, nproc_per_node=8), "c.json", env)
    assert "--nnodes=4" in multi and "--node_rank=3" in multi and "--master_addr=10.0.0.1" in multi
    assert "--master_port=1234" in multi and "--standalone" not in multi
    with pytest.raises(StageError, match="MASTER_ADDR"):
        torchrun_argv(TrainRuntime(nnodes=2), "c.json", {})


def test_config_hash_ignores_runtime_only(tmp_path, tokenizer_dir, shards):
    cfg = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)])
    moved = cfg.model_copy(update={"runtime": TrainRuntime(nproc_per_node=8, device="cuda", micro_batch=1)})
    changed = cfg.model_copy(update={"seed": 4})
    assert config_hash(cfg) == config_hash(moved) != config_hash(changed)
    assert peak_flops(torch.device("cpu"), torch.float32) is None


def _two_steps(cfg):
    stage = Stage(cfg, setup(cfg.runtime))
    assert stage.effective_runtime()["activation_checkpointing"] == cfg.runtime.activation_checkpointing
    losses = [stage.train_step(s)["loss"] for s in range(3)]
    return losses, {n: p.detach().clone() for n, p in stage.model.named_parameters()}


def test_activation_checkpointing_and_micro_batches_do_not_change_the_update(tmp_path, tokenizer_dir, shards):
    base = make_config(
        tmp_path, tokenizer_dir, [("prose", shards["prose"], 0.5), ("math", shards["math"], 0.5)]
    )
    ref_loss, ref_w = _two_steps(base)
    for runtime in ({"activation_checkpointing": True}, {"micro_batch": 2}):
        cfg = base.model_copy(update={"runtime": base.runtime.model_copy(update=runtime)})
        loss, w = _two_steps(cfg)
        assert loss == pytest.approx(ref_loss, abs=1e-6), runtime
        # NOTE: Adam divides by sqrt(v), which magnifies summation-order noise in tiny gradients
        assert max((w[n] - ref_w[n]).abs().max().item() for n in w) < 1e-4, runtime


def test_max_repeat_and_vocabulary_are_checked_before_training(tmp_path, tokenizer_dir, shards):
    cfg = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)], steps=1000)
    capped = cfg.model_copy(
        update={"data": (DataComponent(name="prose", path=str(shards["prose"]), share=1.0, max_repeat=2.0),)}
    )
    with pytest.raises(StageError, match="max_repeat"):
        Stage(capped, setup(capped.runtime))
    small = cfg.model_copy(update={"model": tiny_model(vocab_size=100, vocab_pad_to=1)})
    with pytest.raises(StageError, match="tokenizer has"):
        Stage(small, setup(small.runtime))


def test_sft_reads_compressed_jsonl(tmp_path, tokenizer, chats):
    gz = tmp_path / "chat.jsonl.gz"
    with gzip.open(gz, "wt") as f:
        f.write(chats.read_text())
    data = ChatData((DataComponent(name="c", path=str(tmp_path), share=1.0),), tokenizer, 64, 0)
    assert data.stats()["conversations"] == 64


def test_unsupported_model_is_one_line_error_from_the_cli(tmp_path, tokenizer_dir, shards):
    cfg = make_config(
        tmp_path,
        tokenizer_dir,
        [("prose", shards["prose"], 1.0)],
        model=tiny_model(attention_pattern=(8, 16, None)),
    )
    r = run_runner(write_config(cfg, tmp_path / "c.json"))
    assert r.returncode == 1 and "attention_pattern" in r.stderr and "Traceback" not in r.stderr
    assert not json.dumps(r.stderr).count("\\n") > 2


def test_bfloat16_on_one_cpu_process_trains(tmp_path, tokenizer_dir, shards):
    """Without FSDP (one CPU process) bf16 compute comes from autocast; master weights stay fp32."""
    cfg = make_config(tmp_path, tokenizer_dir, [("prose", shards["prose"], 1.0)], doc_mask=True)
    cfg = cfg.model_copy(update={"runtime": cfg.runtime.model_copy(update={"dtype": "bfloat16"})})
    stage = Stage(cfg, setup(cfg.runtime))
    losses = [stage.train_step(s)["loss"] for s in range(4)]
    assert stage.autocast and all(p.dtype == torch.float32 for p in stage.model.parameters())
    assert losses[-1] < losses[0]
