"""RLVR through the user's path: a spec with pretrain -> sft -> rlvr (and an RL-Zero stage straight
from pretraining with a k3 KL term, two updates per batch and std-normalised advantages, and the
spurious-reward ablation), compiled and run with `dvc repro` in a fresh
repository. Checks what the metrics report (rewards per verifier, dropped groups, refills, full
batches, clip fractions, generation/learning split), that the random control really rewards at
random, that bad prompt records are rejected with their reason, and that a run resumed from a
checkpoint ends with bitwise the same weights."""

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))
RUNTIME = "runtime { device = cpu  threads = 1  checkpoint_every = 2 }"
SPEC = f"""
olmospec 1
tokenizer tok {{ train = bpe  vocab = 320  data = [text] }}
source text {{ path = "data/text.jsonl" }}
source chat {{ path = "data/sft.jsonl"  text = "messages" }}
source rl {{ path = "data/rl.jsonl"  text = "prompt" }}
mix m {{ text 100% {{ max_repeat = 100x }} }}
model tiny {{
  d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}}
stage pretrain {{
  model = tiny  data = m  steps = 40  seq = 64  batch = 8 seqs  lr = 3e-3
  {RUNTIME}
}}
stage sft after pretrain {{
  data = chat  steps = 30  seq = 64  batch = 8 seqs  lr = 2e-3
  {RUNTIME}
}}
stage rlvr after sft {{
  prompts = rl  rewards = [math, ifeval]  group = 2  prompts_per_batch = 4  max_response = 12 tokens
  lr = 1e-4  steps = 4  schedule constant
  {RUNTIME}
}}
stage rlzero after pretrain {{
  kind = rlvr  template = answer  prompts = rl  rewards = [math]  group = 2  prompts_per_batch = 2
  max_response = 8 tokens  lr = 1e-4  steps = 2  active_sampling = off  kl = 0.05  minibatches = 2
  advantages = standard
  {RUNTIME}
}}
ablation spurious {{ rlvr.rewards = [random] }}
"""


def _env():
    return {**os.environ, "DVC_NO_ANALYTICS": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def _data(path: Path) -> None:
    rng = random.Random(0)
    (path / "data").mkdir()

    def problem():
        a, b = rng.randint(10, 49), rng.randint(10, 49)
        return a, b, f"What is {a} + {b}?"

    with open(path / "data/text.jsonl", "w") as f:
        for i in range(200):
            lines = [f"{q} {a} + {b} = {a + b}. Answer: {a + b}" for a, b, q in (problem() for _ in range(4))]
            f.write(json.dumps({"id": f"t{i}", "text": "\n".join(lines)}) + "\n")
    with open(path / "data/sft.jsonl", "w") as f:
        for i in range(300):
            a, b, q = problem()
            f.write(json.dumps({"id": f"s{i}", "messages": [{"role": "user", "content": q}, {
                "role": "assistant", "content": f"{a} + {b} = {a + b}. Answer: {a + b}"}]}) + "\n")
    with open(path / "data/rl.jsonl", "w") as f:
        for i in range(60):
            a, b, q = problem()
            f.write(json.dumps({"id": f"m{i}", "prompt": q, "answer": str(a + b), "verifier": "math"}) + "\n")
        for i in range(20):
            f.write(json.dumps({"id": f"i{i}", "prompt": "Say something in lowercase.", "answer": "",
                                "verifier": "ifeval", "constraints": [{"type": "lowercase"}]}) + "\n")
        f.write(json.dumps({"id": "bad1", "prompt": "x", "verifier": "ifeval", "constraints": [{"type": "shout"}]}) + "\n")
        f.write(json.dumps({"id": "bad2", "prompt": "What is 1 + 1?", "verifier": "math"}) + "\n")


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = tmp_path_factory.mktemp("rlvr") / "repo"
    path.mkdir()
    for pkg in ("runners", "olmospec"):
        shutil.copytree(ROOT / pkg, path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    _data(path)
    (path / "flow.ospec").write_text(SPEC)
    subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(path), "compile", str(path / "flow.ospec"),
                    "--out", "."], check=True, capture_output=True, cwd=path)
    subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    subprocess.run([DVC, "init", "-q"], cwd=path, check=True, env=_env())
    r = subprocess.run([DVC, "repro"], cwd=path, capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return path


def _rlvr_configs(repo: Path) -> list[dict]:
    configs = [json.loads(f.read_text()) for f in (repo / "stages").glob("*.json") if not f.name.endswith(".runtime.json")]
    return [c for c in configs if c.get("kind") == "rlvr"]


def _metrics(repo: Path, pred) -> tuple[dict, dict]:
    (cfg,) = [c for c in _rlvr_configs(repo) if pred(c)]
    return json.loads((repo / cfg["output"] / "metrics.json").read_text()), cfg


@pytest.mark.slow
def test_verifiable_and_spurious_rlvr_through_dvc(repo):
    real, _ = _metrics(repo, lambda c: c["rewards"] == ["math", "ifeval"])
    rand, _ = _metrics(repo, lambda c: c["rewards"] == ["random"])
    for m in (real, rand):
        assert m["steps"] == 4
        assert m["prompts"] == 80 and m["prompts_rejected"] == 2
        for key in ("dropped_group_frac", "refills_per_step", "clip_low_frac", "clip_high_frac", "response_len",
                    "verifier_failures"):
            assert key in m, key
        assert not {"gen_seconds", "learn_seconds", "gen_tokens_per_s", "learn_tokens_per_s"} & set(m)  # receipt
    for pred in (lambda c: c["rewards"] == ["math", "ifeval"], lambda c: c["rewards"] == ["random"]):
        (cfg,) = [c for c in _rlvr_configs(repo) if pred(c)]
        timing = json.loads((repo / cfg["output"] / "receipt.json").read_text())["throughput"]
        assert timing["gen_seconds"] > 0 and timing["learn_seconds"] > 0 and timing["gen_tokens_per_s"] > 0
    # random rewards over groups of 2: about half the groups are all-equal, so active sampling must
    # drop and refill, and still fill every batch
    assert rand["dropped_group_frac"] > 0.2 and rand["refills_per_step"] > 0
    assert rand["full_batch_frac"] == 1.0 and rand["short_batches"] == 0
    assert 0.25 < rand["reward_first_tenth"] < 0.75 or 0.25 < rand["reward_last_tenth"] < 0.75
    rows = (repo / _metrics(repo, lambda c: c["rewards"] == ["random"])[1]["output"] / "plots/train.csv")
    header = rows.read_text().splitlines()[0].split(",")
    assert {"dropped_frac", "refills", "retired", "reward_math", "gen_s", "learn_s"} <= set(header)


@pytest.mark.slow
def test_rejects_name_the_bad_prompt_records(repo):
    _, cfg = _metrics(repo, lambda c: c["rewards"] == ["math", "ifeval"])
    rejects = [json.loads(x) for x in (repo / cfg["output"] / "rejects.jsonl").read_text().splitlines()]
    assert {r["id"] for r in rejects} == {"bad1", "bad2"}
    assert any("shout" in r["reason"] for r in rejects) and any("answer" in r["reason"] for r in rejects)
    # a declared output: it is cached and published with the stage, not left behind in runs/
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][cfg["stage_id"]]
    assert f"{cfg['output']}/rejects.jsonl" in {o["path"] for o in lock["outs"]}


@pytest.mark.slow
def test_rl_zero_runs_from_the_base_model_with_the_answer_template(repo):
    m, cfg = _metrics(repo, lambda c: c["template"] == "answer")
    assert cfg["init_from"].startswith("runs/pretrain-")
    assert m["steps"] == 2 and m["template"] == "answer" and m["prompts"] == 60  # math prompts only
    assert m["dropped_group_frac"] >= 0 and m["refills_per_step"] == 0  # active sampling off
    assert cfg["kl"] == 0.05 and cfg["minibatches"] == 2 and cfg["advantages"] == "standard"


@pytest.mark.slow
def test_resumed_rlvr_ends_bitwise_equal(repo, tmp_path):
    """Rewind the stage to its step-2 checkpoint and rerun the runner: same final weights."""
    from safetensors.torch import load_file

    _, cfg = _metrics(repo, lambda c: c["rewards"] == ["math", "ifeval"])
    out = repo / cfg["output"]
    want = load_file(str(out / "hf/model.safetensors"))
    ck = out / "checkpoints"
    shutil.rmtree(ck / "step_00000004")
    (ck / "latest").write_text("step_00000002\n")
    shutil.rmtree(out / "hf")
    r = subprocess.run([sys.executable, "-m", "runners.rlvr", "--config", f"stages/{cfg['stage_id']}.json"],
                       cwd=repo, capture_output=True, text=True, env={**_env(), "PYTHONPATH": str(repo)}, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    got = load_file(str(out / "hf/model.safetensors"))
    assert all(bool((got[k] == want[k]).all()) for k in want), "resumed RLVR weights differ"
    assert len((out / "plots/train.csv").read_text().splitlines()) == 1 + 4


@pytest.mark.slow
def test_two_processes_fsdp_learner_with_synced_sampler(repo):
    """Under torchrun (2 ranks, FSDP2 on gloo) each rank samples its share of the prompts from an
    unsharded copy that gets the full weights after every step; the run completes and exports."""
    _, cfg = _metrics(repo, lambda c: c["rewards"] == ["random"])
    stages = repo / "stages"
    two = {**cfg, "stage_id": "rlvr-two", "output": "runs/rlvr-two", "steps": 2}
    (stages / "rlvr-two.json").write_text(json.dumps(two))
    (stages / "rlvr-two.runtime.json").write_text(json.dumps({"device": "cpu", "threads": 1, "nproc_per_node": 2,
                                                              "checkpoint_every": 2}))
    r = subprocess.run([sys.executable, "-m", "runners.rlvr", "--config", "stages/rlvr-two.json"], cwd=repo,
                       capture_output=True, text=True, env={**_env(), "PYTHONPATH": str(repo)}, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((repo / "runs/rlvr-two/metrics.json").read_text())
    assert m["steps"] == 2 and m["full_batch_frac"] == 1.0
    assert (repo / "runs/rlvr-two/hf/model.safetensors").exists()
