"""The whole chain through DVC: spec -> compile -> `dvc repro` (tokenizer, tokenize, mix, pretrain).
A `dvc repro` killed with SIGKILL mid-training and rerun resumes from the last checkpoint and ends
with weights bitwise identical to an uninterrupted run; after an upstream input changes, the same
stage starts over instead of resuming checkpoints made from the old data."""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))
SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 320  data = [text] }
source text { path = "data/text.jsonl" }
mix m { text 100% { max_repeat = 100x } }
model tiny {
  d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}
stage pretrain {
  model = tiny  data = m  steps = 300  seq = 64  batch = 8 seqs  lr = 3e-3
  schedule cosine { warmup = 2 steps  final = 10% }
  runtime { device = cpu  threads = 1  checkpoint_every = 20 }
}
"""


def _env():
    return {**os.environ, "DVC_NO_ANALYTICS": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def _repo(path: Path, seed: int = 0) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "runners", path / "runners", ignore=shutil.ignore_patterns("__pycache__"))
    rng = random.Random(seed)
    words = ["the", "a", "model", "data", "token", "train", "loss", "step", "mix", "source", "curve", "weight", "seed", "shard"]
    (path / "data").mkdir()
    with open(path / "data/text.jsonl", "w") as f:
        f.writelines(json.dumps({"id": f"t{i}", "text": " ".join(rng.choice(words) for _ in range(60))}) + "\n" for i in range(300))
    (path / "flow.ospec").write_text(SPEC)
    subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(path), "compile", str(path / "flow.ospec"),
                    "--out", "."], check=True, capture_output=True)
    subprocess.run([DVC, "init", "-q", "--no-scm"], cwd=path, check=True, env=_env())
    return path


def _pretrain_dir(repo: Path) -> Path:
    return next(p for p in (repo / "runs").iterdir() if p.name.startswith("pretrain-"))


def _repro(repo: Path) -> subprocess.CompletedProcess:
    r = subprocess.run([DVC, "repro"], cwd=repo, capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_killed_repro_resumes_bitwise_and_foreign_checkpoints_are_discarded(tmp_path):
    from safetensors.torch import load_file

    a = _repo(tmp_path / "a")
    _repro(a)
    want = load_file(str(_pretrain_dir(a) / "hf/model.safetensors"))

    b = _repo(tmp_path / "b")
    proc = subprocess.Popen([DVC, "repro"], cwd=b, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
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
    _repro(b)
    out = _pretrain_dir(b)
    receipt = json.loads((out / "receipt.json").read_text())
    assert 0 < receipt["resumed_from_step"] < 300
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
