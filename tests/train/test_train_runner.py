"""The runner end to end: a pretrain -> midtrain -> longctx -> sft chain, 2 processes against 1, and a
run killed with SIGKILL that resumes to bit-identical weights."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch
from train_helpers import REPO, losses, make_config, run_runner, runner_env, write_config

from olmospec.ir.model import YarnConfig
from olmospec.ir.train import ScheduleConfig, TrainRuntime
from runners.train.checkpoint import Checkpointer
from runners.train.launch import setup
from runners.train.loop import Stage, run


def _data(shards):
    return [("prose", shards["prose"], 0.6), ("math", shards["math"], 0.4)]


def _hf_weights(folder):
    from safetensors.torch import load_file

    return load_file(str(folder / "hf" / "model.safetensors"))


@pytest.mark.slow
def test_stage_chain_trains_exports_and_reloads(tmp_path, tokenizer_dir, shards, chats):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    pre = make_config(
        tmp_path / "pre",
        tokenizer_dir,
        _data(shards),
        steps=30,
        doc_mask=True,
        runtime={"micro_batch": 4, "checkpoint_every": 10},
    )
    summary = run(pre)
    assert summary["final_loss"] < summary["first_loss"] - 1.5, summary  # loss falls on a tiny model
    out = tmp_path / "pre"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 30 and metrics["tokens"] == 30 * 8 * 32 and "mfu" not in metrics
    assert set(metrics["epochs_per_source"]) == {"prose", "math"}
    receipt = json.loads((out / "receipt.json").read_text())
    assert receipt["stage_id"] == "pretrain-test" and len(receipt["config_hash"]) == 64
    assert receipt["config_hash"] == json.loads((out / "receipt.json").read_text())["config_hash"]
    assert len(losses(out)) == 30
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        "fingerprint.json",
        "latest",
        "saved_steps.txt",
        "step_00000020",
        "step_00000030",
    ]
    assert receipt["checkpoint_steps"] == [10, 20, 30] and receipt["throughput"]["mfu"] is None
    assert receipt["runtime"]["micro_batches_per_step"] == 2 and receipt["runtime"]["threads"] == 1
    # the processor, whose kind decides the summation orders, hence the exact weights
    assert receipt["cpu"].endswith(f"{os.cpu_count()} cores, {torch.backends.cpu.get_cpu_capability()}")

    # the HF export loads with AutoModelForCausalLM and gives the logits of the final checkpoint
    hf = AutoModelForCausalLM.from_pretrained(out / "hf").eval()
    tok = AutoTokenizer.from_pretrained(out / "hf")
    d = setup(pre.runtime)
    stage = Stage(pre, d)
    Checkpointer(out / "checkpoints", d).load(
        out / "checkpoints" / "step_00000030", stage.model, stage.optimizer
    )
    ids = torch.tensor([tok("what is 3 + 4? it is 7.")["input_ids"]])
    with torch.no_grad():
        assert torch.equal(hf(ids).logits, stage.model.eval()(ids).logits)

    mid = pre.model_copy(
        update={
            "stage_id": "mid-test",
            "kind": "midtrain",
            "init_from": str(out),
            "output": str(tmp_path / "mid"),
            "steps": 4,
            "schedule": ScheduleConfig(kind="linear"),
            "doc_mask": False,
        }
    )
    m = run(mid)
    assert m["first_loss"] < summary["first_loss"] - 1.0  # starts from the pretrained weights

    lc = mid.model_copy(
        update={
            "stage_id": "lc-test",
            "kind": "longctx",
            "init_from": str(tmp_path / "mid"),
            "output": str(tmp_path / "lc"),
            "seq_len": 64,
            "batch_seqs": 4,
            "yarn": YarnConfig(factor=2.0, original_context=32),
        }
    )
    run(lc)
    rope = json.loads((tmp_path / "lc" / "hf" / "config.json").read_text())["rope_parameters"]
    assert (
        rope["full_attention"]["rope_type"] == "yarn" and rope["sliding_attention"]["rope_type"] == "default"
    )

    sft = lc.model_copy(
        update={
            "stage_id": "sft-test",
            "kind": "sft",
            "init_from": str(tmp_path / "lc"),
            "output": str(tmp_path / "sft"),
            "steps": None,
            "epochs": 1.0,
            "doc_mask": True,
            "data": (pre.data[0].model_copy(update={"name": "chat", "path": str(chats), "share": 1.0}),),
        }
    )
    s = run(sft)
    assert s["sft_data"]["conversations"] == 64 and s["sft_data"]["skipped"] == {}
    assert s["steps"] == -(-s["sft_data"]["rows_per_epoch"] // 4)
    chat_tok = AutoTokenizer.from_pretrained(tmp_path / "sft" / "hf")
    prompt = chat_tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt == "<|user|>\nhi\n<|assistant|>\n"


@pytest.mark.slow
def test_two_processes_match_one(tmp_path, tokenizer_dir, shards):
    """FSDP2 over 2 gloo ranks (with gradient accumulation) computes the same losses as 1 process."""
    one = make_config(tmp_path / "one", tokenizer_dir, _data(shards), steps=5, doc_mask=True)
    two = one.model_copy(
        update={
            "output": str(tmp_path / "two"),
            "runtime": TrainRuntime(device="cpu", threads=1, nproc_per_node=2, micro_batch=2, log_every=1),
        }
    )
    for cfg, name in ((one, "one.json"), (two, "two.json")):
        r = run_runner(write_config(cfg, tmp_path / name))
        assert r.returncode == 0, r.stderr[-3000:]
    a, b = losses(tmp_path / "one"), losses(tmp_path / "two")
    assert len(a) == len(b) == 5
    assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5, (a, b)
    wa, wb = _hf_weights(tmp_path / "one"), _hf_weights(tmp_path / "two")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


@pytest.mark.slow
def test_checkpoint_of_one_process_resumes_on_two(tmp_path, tokenizer_dir, shards):
    """DCP reshards on load: a 1-process checkpoint continues under FSDP2 on 2 ranks, same numbers."""
    one = make_config(
        tmp_path / "one", tokenizer_dir, _data(shards), steps=5, runtime={"checkpoint_every": 2}
    )
    two = one.model_copy(
        update={
            "output": str(tmp_path / "two"),
            "runtime": one.runtime.model_copy(update={"nproc_per_node": 2}),
        }
    )
    assert run_runner(write_config(one, tmp_path / "one.json")).returncode == 0
    (tmp_path / "two" / "checkpoints").mkdir(parents=True)
    shutil.copytree(
        tmp_path / "one" / "checkpoints" / "step_00000004", tmp_path / "two" / "checkpoints" / "step_00000004"
    )
    (tmp_path / "two" / "checkpoints" / "latest").write_text("step_00000004\n")
    fp = "fingerprint.json"  # made from the same inputs: resumable elsewhere
    shutil.copy(tmp_path / "one" / "checkpoints" / fp, tmp_path / "two" / "checkpoints" / fp)
    r = run_runner(write_config(two, tmp_path / "two.json"))
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path / "two" / "receipt.json").read_text())["resumed_from_step"] == 4
    assert abs(losses(tmp_path / "one")[-1] - losses(tmp_path / "two")[-1]) < 1e-5
    wa, wb = _hf_weights(tmp_path / "one"), _hf_weights(tmp_path / "two")
    assert max((wa[k] - wb[k]).abs().max().item() for k in wa) < 1e-5


@pytest.mark.slow
def test_killed_run_resumes_to_identical_weights(tmp_path, tokenizer_dir, shards):
    """SIGKILL after the first checkpoint, rerun: final weights equal an uninterrupted run's, bitwise."""
    kw = {"steps": 40, "seq_len": 64, "batch_seqs": 8, "runtime": {"checkpoint_every": 4}}
    full = make_config(tmp_path / "full", tokenizer_dir, _data(shards), **kw)
    cut = make_config(tmp_path / "cut", tokenizer_dir, _data(shards), **kw)
    assert run_runner(write_config(full, tmp_path / "full.json")).returncode == 0

    cmd = [sys.executable, "-m", "runners.train", "--config", str(write_config(cut, tmp_path / "cut.json"))]
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=runner_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    latest = tmp_path / "cut" / "checkpoints" / "latest"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (tmp_path / "cut" / "hf").exists(), "the run finished before it could be killed"

    r = run_runner(tmp_path / "cut.json")
    assert r.returncode == 0, r.stderr[-3000:]
    resumed = json.loads((tmp_path / "cut" / "receipt.json").read_text())["resumed_from_step"]
    assert 4 <= resumed < 40 and resumed % 4 == 0
    wa, wb = _hf_weights(tmp_path / "full"), _hf_weights(tmp_path / "cut")
    assert wa.keys() == wb.keys()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert losses(tmp_path / "full") == losses(tmp_path / "cut")


def test_bad_config_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stage_id": "x"}))
    r = subprocess.run(
        [sys.executable, "-m", "runners.train", "--config", str(bad)],
        check=False,
        cwd=REPO,
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "bad config" in r.stderr and "Traceback" not in r.stderr
