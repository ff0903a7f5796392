"""A temporary project for the DPO tests, built as a user's would be: data files, a spec whose DPO
stage makes delta pairs from two of the flow's own checkpoints (sft chosen, pretrain rejected),
`olmospec compile`, `dvc init`; then `dvc repro` runs pretrain -> sft -> pairs -> ref -> dpo."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))
RUNTIME = "runtime { device = cpu  threads = 1 }"
DPO = """stage dpo after sft {
  prompts = prompts  pairs = delta(chosen = sft, rejected = pretrain)
  loss = dpo_norm  beta = 5  lr = 2e-3  epochs = 2  seq = 96  batch = 8 seqs  heldout = 25%
  temperature = 1.0  max_response = 24 tokens  length_control = 40 tokens
  schedule linear { warmup = 10% }
  runtime { device = cpu  threads = 1  checkpoint_every = 4  micro_batch = 4 }
}
"""
SPEC = f"""
olmospec 1
tokenizer tok {{ train = bpe  vocab = 320  data = [text] }}
source text {{ path = "data/text.jsonl" }}
source chats {{ path = "data/chats.jsonl"  text = "messages" }}
source prompts {{ path = "data/prompts.jsonl"  text = "prompt" }}
mix m {{ text 100% {{ max_repeat = 100x }} }}
model tiny {{
  d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}}
stage pretrain {{ model = tiny  data = m  steps = 20  seq = 64  batch = 8 seqs  lr = 3e-3  {RUNTIME} }}
stage sft after pretrain {{ data = chats  epochs = 4  seq = 64  batch = 8 seqs  lr = 3e-3  {RUNTIME} }}
{DPO}"""
BAD_PROMPTS = ['{"id": "bad-json", "prompt": ', json.dumps({"id": "no-prompt", "answer": "3"}),
               json.dumps({"id": "empty", "prompt": "   "})]


def env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "OLMOSPEC_PYTHON": sys.executable, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def write_data(path: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    words = ["the", "a", "model", "data", "token", "train", "loss", "step", "mix", "source", "curve", "weight"]
    (path / "data").mkdir(parents=True, exist_ok=True)
    with open(path / "data/text.jsonl", "w") as f:
        f.writelines(json.dumps({"id": f"t{i}", "text": " ".join(rng.choice(words) for _ in range(60))}) + "\n" for i in range(200))
    with open(path / "data/chats.jsonl", "w") as f:
        for i in range(160):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            msgs = [{"role": "user", "content": f"what is {a} + {b}?"}, {"role": "assistant", "content": str(a + b)}]
            f.write(json.dumps({"id": f"c{i}", "messages": msgs}) + "\n")
    with open(path / "data/prompts.jsonl", "w") as f:
        for i in range(48):
            a, b = rng.randint(1, 9), rng.randint(1, 9)
            f.write(json.dumps({"id": f"p{i}", "prompt": f"what is {a} + {b}?", "answer": str(a + b)}) + "\n")
            if i in (5, 17, 30):  # malformed records among good ones: lines 7, 20, 34
                f.write(BAD_PROMPTS[(5, 17, 30).index(i)] + "\n")


def cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(repo), *args], capture_output=True,
                          text=True, env=env(), check=False)


def compile_spec(repo: Path, spec: str, name: str = "flow.ospec") -> None:
    (repo / name).write_text(spec)
    r = cli(repo, "compile", str(repo / name), "--out", ".")
    assert r.returncode == 0, r.stdout + r.stderr


def make_repo(path: Path, spec: str = SPEC) -> Path:
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "runners", path / "runners", ignore=shutil.ignore_patterns("__pycache__"))
    write_data(path)
    compile_spec(path, spec)
    subprocess.run([DVC, "init", "-q", "--no-scm"], cwd=path, check=True, env=env())
    return path


def dvc(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([DVC, *args], cwd=repo, capture_output=True, text=True, env=env(), check=False)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def stage_id(repo: Path, label: str) -> str:
    """The id of the stage named `label` (e.g. "dpo-ref") in the pipeline as compiled now."""
    import yaml

    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    hits = [s for s in stages if s.rsplit("-", 1)[0] == label]
    assert len(hits) == 1, hits
    return hits[0]


def stage_dir(repo: Path, label: str) -> Path:
    return repo / "runs" / stage_id(repo, label)


def changed_stages(repo: Path) -> set[str]:
    """Stages `dvc status` says are out of date (by name)."""
    r = dvc(repo, "status", "--json")
    return set(json.loads(r.stdout or "{}"))
