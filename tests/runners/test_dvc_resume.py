"""The whole chain through DVC: spec -> compile -> `dvc repro` (tokenizer, tokenize, mix, pretrain).
A `dvc repro` killed with SIGKILL mid-training and rerun resumes from the last checkpoint and ends
with weights bitwise identical to an uninterrupted run; after an upstream input changes, the same
stage starts over instead of resuming checkpoints made from the old data."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from dvc_repo import DVC, WORD_FLOW, env, make_repo, repro, run_dir, word_docs

SPEC = WORD_FLOW + """
stage pretrain {
  model = tiny  data = m  steps = 300  seq = 64  batch = 8 seqs  lr = 3e-3
  schedule cosine { warmup = 2 steps  final = 10% }
  runtime { device = cpu  threads = 1  checkpoint_every = 30 }
}
"""


def _repo(path: Path) -> Path:
    return make_repo(path, SPEC, {"data/text.jsonl": word_docs()}, git=False)


def _pretrain_dir(repo: Path) -> Path:
    return run_dir(repo, "pretrain-")


def _repro(repo: Path) -> subprocess.CompletedProcess:
    return repro(repo)


@pytest.mark.slow
def test_killed_repro_resumes_bitwise_and_foreign_checkpoints_are_discarded(tmp_path):
    from safetensors.torch import load_file

    a = _repo(tmp_path / "a")
    _repro(a)
    want = load_file(str(_pretrain_dir(a) / "hf/model.safetensors"))

    b = _repo(tmp_path / "b")
    proc = subprocess.Popen([DVC, "repro"], cwd=b, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    latest = None
    while time.time() < deadline and proc.poll() is None:
        runs = b / "runs"
        hits = list(runs.glob("pretrain-*/checkpoints/latest")) if runs.exists() else []
        if hits:  # the first checkpoint is written: kill the whole `dvc repro` process group
            latest = hits[0]
            break
        time.sleep(0.2)
    assert latest is not None, "training finished before the kill: give it more steps"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the checkpoint the rerun must resume from: what `latest` names once every process is dead
    killed_at = int(latest.read_text().strip().removeprefix("step_"))
    assert killed_at % 30 == 0 and 0 < killed_at < 300  # checkpoint_every = 30 reached the runner (not 100)
    _repro(b)
    out = _pretrain_dir(b)
    receipt = json.loads((out / "receipt.json").read_text())
    assert receipt["resumed_from_step"] == killed_at
    got = load_file(str(out / "hf/model.safetensors"))
    assert set(got) == set(want)
    assert all(bool((got[k] == want[k]).all()) for k in want), "resumed weights differ from an uninterrupted run"
    rows = (out / "plots/train.csv").read_text().splitlines()
    assert len(rows) == 1 + 300  # header + every step, across the kill

    # An upstream change reruns the stage under the same id: it must not resume the old checkpoints.
    with open(b / "data/text.jsonl", "a") as f:
        f.write(json.dumps({"id": "extra", "text": "a brand new document about curves"}) + "\n")
    _repro(b)
    assert _pretrain_dir(b) == out
    assert json.loads((out / "receipt.json").read_text())["resumed_from_step"] == 0
