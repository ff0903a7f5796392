"""Runtime settings reach the training runner through the files the compiler writes: a spec's
`runtime { procs_per_node = 2 ... }` under a plain `dvc repro` runs two ranks (torchrun, gloo,
FSDP2), checkpoints at multiples of `checkpoint_every`, uses `threads` and `micro_batch`, and ends
with the weights of the same stage run as one process (runtime is not identity: same stage id)."""

from __future__ import annotations

import json

import pytest
from dvc_repo import WORD_FLOW, make_repo, repro, run_dir, word_docs

STAGE = """
stage pretrain {{
  model = tiny  data = m  steps = 30  seq = 64  batch = 8 seqs  lr = 3e-3
  schedule cosine {{ warmup = 2 steps  final = 10% }}
  runtime {{ {runtime} }}
}}
"""


def spec(runtime: str) -> str:
    """The word flow with one pretrain stage whose runtime block is `runtime`."""
    return WORD_FLOW + STAGE.format(runtime=runtime)


def _weights(out):
    from safetensors.torch import load_file

    return load_file(str(out / "hf/model.safetensors"))


@pytest.mark.slow
def test_two_ranks_under_dvc_repro_match_one_process(tmp_path):
    data = {"data/text.jsonl": word_docs()}
    two = make_repo(tmp_path / "two", spec(
        "device = cpu  procs_per_node = 2  threads = 1  checkpoint_every = 7  micro_batch = 2"), data)
    one = make_repo(tmp_path / "one", spec("device = cpu  threads = 2  checkpoint_every = 50"), data)
    repro(two)
    repro(one)
    a, b = run_dir(two, "pretrain-"), run_dir(one, "pretrain-")
    assert a.name == b.name  # runtime settings never change a stage's identity

    ra = json.loads((a / "receipt.json").read_text())["runtime"]
    assert ra["world_size"] == 2 and ra["fsdp"] is True and ra["device"] == "cpu"
    assert ra["threads"] == 1 and ra["micro_batches_per_step"] == 2  # 8 seqs / 2 ranks / micro-batch 2
    rb = json.loads((b / "receipt.json").read_text())["runtime"]
    assert rb["world_size"] == 1 and rb["fsdp"] is False and rb["threads"] == 2 and rb["micro_batches_per_step"] == 1

    assert json.loads((a / "receipt.json").read_text())["checkpoint_steps"] == [7, 14, 21, 28, 30]
    assert json.loads((b / "receipt.json").read_text())["checkpoint_steps"] == [30]
    assert sorted(p.name for p in (a / "checkpoints").glob("step_*")) == ["step_00000028", "step_00000030"]

    wa, wb = _weights(a), _weights(b)
    assert set(wa) == set(wb)
    worst = max(float((wa[k] - wb[k]).abs().max()) for k in wa)
    assert worst < 1e-5, worst
