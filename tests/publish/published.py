"""A small spec run once through `dvc repro` (tokenizer, manifest, tokenize, mix, a 20-step pretrain),
and the steps a user takes to publish it and to use it from a clone: `olmospec publish`, `git commit`,
`git clone`, `dvc pull`. The tests copy the ran repository instead of rerunning it.

    repo = copy_of(ran, tmp_path / "a"); olmospec(repo, "publish"); commit(repo); clone(repo, tmp_path / "b")
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from dvc_repo import DVC, WORD_FLOW, env, make_repo, repro, word_docs

SPEC = WORD_FLOW + """
stage pretrain {
  model = tiny  data = m  steps = 20  seq = 64  batch = 8 seqs  lr = 3e-3
  schedule cosine { warmup = 2 steps  final = 10% }
  runtime { device = cpu  threads = 1  checkpoint_every = 10 }
}
"""
GIT = ["git", "-c", "user.name=olmospec tests", "-c", "user.email=tests@localhost"]


def run_spec(path: Path) -> Path:
    repo = make_repo(path, SPEC, {"data/text.jsonl": word_docs()})
    (repo / ".gitignore").write_text("__pycache__/\nruns/\n")  # as the project's own .gitignore
    repro(repo)
    return repo


def copy_of(repo: Path, dest: Path) -> Path:
    shutil.copytree(repo, dest, symlinks=True)
    return dest


def olmospec(repo: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", *args], cwd=repo, capture_output=True, text=True,
                       env=env(), check=False)
    if ok:
        assert r.returncode == 0, r.stdout + r.stderr
    return r


def dvc(repo: Path, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([DVC, *args], cwd=repo, capture_output=True, text=True, env=env(), check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def commit(repo: Path) -> None:
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "Publish results"], cwd=repo, check=True)


def clone(repo: Path, dest: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(repo), str(dest)], check=True)
    return dest


def outputs(repo: Path) -> dict[str, str]:
    """sha256 of every file under runs/, except the runner's checkpoints (not a published output)."""
    return {p.relative_to(repo).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((repo / "runs").rglob("*")) if p.is_file() and "checkpoints" not in p.parts
            and p.name != ".gitignore"}


def stage_id(repo: Path, prefix: str) -> str:
    import yaml

    hits = [s for s in yaml.safe_load((repo / "dvc.lock").read_text())["stages"] if s.startswith(prefix)]
    assert len(hits) == 1, hits
    return hits[0]
