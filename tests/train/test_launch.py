"""`runtime.launcher` does what it names. `slurm`: `dvc repro` outside an allocation writes the
stage's sbatch job and stops, recording nothing; run as that job would run it (two "nodes" on
loopback, each with Slurm's variables), the stage trains once across both nodes, and the job's own
`dvc commit` line records it. A multi-node stage without a rendezvous refuses to start rather than
train as independent single-process runs."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys

import pytest
from dvc_repo import DVC, WORD_FLOW, env, make_repo, repro, run_dir, word_docs

STAGE = """
stage pretrain {{
  model = tiny  data = m  steps = 12  seq = 64  batch = 8 seqs  lr = 3e-3
  runtime {{ device = cpu  threads = 1  nodes = 2  procs_per_node = 1  {launcher} }}
}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stage_config(repo) -> str:
    return next(str(p.relative_to(repo)) for p in (repo / "stages").glob("pretrain-*.json")
                if not p.name.endswith(".runtime.json"))


@pytest.mark.slow
def test_slurm_launcher_writes_the_job_and_the_job_records_the_stage(tmp_path):
    repo = make_repo(tmp_path / "r", WORD_FLOW + STAGE.format(launcher="launcher = slurm"), {"data/text.jsonl": word_docs()})
    r = repro(repo, ok=False)
    assert r.returncode != 0
    out = run_dir(repo, "pretrain-")
    script = out / "slurm.sbatch"
    assert f"sbatch {script.relative_to(repo)}" in r.stderr and "Traceback" not in r.stderr
    text = script.read_text()
    assert "#SBATCH --nodes=2" in text and "srun --kill-on-bad-exit=1" in text
    assert f"-m runners.train --config {_stage_config(repo)}" in text
    assert not (out / "hf").exists() and not (out / "metrics.json").exists()  # nothing trained, nothing recorded

    # What `srun` does on each of the two nodes: the stage's own command with Slurm's variables.
    port = str(_free_port())
    nodes = [subprocess.Popen([sys.executable, "-m", "runners.train", "--config", _stage_config(repo)], cwd=repo,
                              env=env(SLURM_JOB_ID="1", SLURM_NNODES="2", SLURM_NODEID=str(i), MASTER_ADDR="127.0.0.1",
                                      MASTER_PORT=port), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for i in (0, 1)]
    logs = [p.communicate(timeout=600)[0] for p in nodes]
    assert [p.returncode for p in nodes] == [0, 0], "\n".join(log[-3000:] for log in logs)
    receipt = json.loads((out / "receipt.json").read_text())
    assert receipt["world_size"] == 2 and receipt["runtime"]["fsdp"] is True
    assert json.loads((out / "metrics.json").read_text())["steps"] == 12

    # The job's last line records the outputs; afterwards DVC sees the stage as done.
    commit = shlex.split(text.strip().splitlines()[-1])
    assert commit[0].endswith("dvc") and commit[1:3] == ["commit", "--force"]
    subprocess.run(commit, cwd=repo, env=env(), check=True, capture_output=True)
    status = subprocess.run([DVC, "status", "--json"], cwd=repo, env=env(), capture_output=True, text=True, check=True)
    assert json.loads(status.stdout) == {}


def test_multinode_torchrun_without_rendezvous_refuses_to_start(tmp_path):
    repo = make_repo(tmp_path / "r", WORD_FLOW + STAGE.format(launcher="launcher = torchrun"), {"data/text.jsonl": word_docs(40)})
    r = repro(repo, ok=False)
    assert r.returncode != 0 and "needs MASTER_ADDR" in r.stderr and "Traceback" not in r.stderr
    assert not list((repo / "runs").glob("pretrain-*/hf"))
