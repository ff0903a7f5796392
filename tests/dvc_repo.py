"""A fresh project repository for tests that run a spec the way a user does: `git init`, the spec and
its data files, `olmospec compile`, `dvc init`, then `dvc repro` as a subprocess.

The runner packages are copied in (stage commands run `python -m runners.<kind>` from the repo root
and list runner files as DVC dependencies), so the test exercises exactly the files the compiler
writes and the commands DVC runs.

    repo = make_repo(tmp_path / "a", SPEC, {"data/text.jsonl": lines})
    repro(repo)
    out = run_dir(repo, "pretrain-")
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
CODE = ("runners", "olmospec", "evals")

# A one-source flow up to a 2-layer model, the head of the specs that test one training stage: append
# a `stage pretrain { ... }` block. `word_docs()` writes its data file.
WORD_FLOW = """
olmospec 1
tokenizer tok { train = bpe  vocab = 320  data = [text] }
source text { path = "data/text.jsonl" }
mix m { text 100% { max_repeat = 100x } }
model tiny {
  d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}
"""


def env(**extra: str) -> dict[str, str]:
    """The environment of `dvc repro` from a shell with the project's venv first on PATH."""
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "PATH": os.pathsep.join([str(BIN), os.environ["PATH"]]), **extra}


def make_repo(path: Path, spec: str, files: dict[str, str | bytes] | None = None, *, spec_name: str = "flow.ospec",
              git: bool = True) -> Path:
    path.mkdir(parents=True)
    for pkg in CODE:
        if (ROOT / pkg).is_dir():
            shutil.copytree(ROOT / pkg, path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for rel, content in (files or {}).items():
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
    (path / spec_name).write_text(spec)
    if git:
        subprocess.run(["git", "init", "-q"], cwd=path, check=True)
    compile_spec(path, spec_name)
    subprocess.run([DVC, "init", "-q"] + ([] if git else ["--no-scm"]), cwd=path, check=True, env=env())
    return path


def compile_spec(repo: Path, spec_name: str = "flow.ospec") -> None:
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(repo), "compile", str(repo / spec_name),
                        "--out", "."], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr


def repro(repo: Path, *targets: str, ok: bool = True, **extra_env: str) -> subprocess.CompletedProcess:
    r = subprocess.run([DVC, "repro", *targets], cwd=repo, capture_output=True, text=True, env=env(**extra_env),
                       check=False)
    if ok:
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r


def run_dir(repo: Path, prefix: str) -> Path:
    """The single `runs/<prefix>...` output folder of a stage."""
    hits = [p for p in (repo / "runs").iterdir() if p.name.startswith(prefix)]
    assert len(hits) == 1, hits
    return hits[0]


def word_docs(n: int = 300, words_per_doc: int = 60, seed: int = 0) -> str:
    """A jsonl of `n` documents of random words from a small vocabulary (deterministic in `seed`)."""
    import json
    import random

    rng = random.Random(seed)
    words = ["the", "a", "model", "data", "token", "train", "loss", "step", "mix", "source", "curve", "weight",
             "seed", "shard"]
    return "".join(json.dumps({"id": f"t{i}", "text": " ".join(rng.choice(words) for _ in range(words_per_doc))})
                   + "\n" for i in range(n))
