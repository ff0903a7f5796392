"""A fresh temporary DVC repository holding the tiny spec and its corpus, compiled as a user would
(`olmospec compile`, `dvc init`), for tests that run its stages with `dvc repro`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))


def env() -> dict[str, str]:
    return {**os.environ, "DVC_NO_ANALYTICS": "1",
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def make_repo(path: Path, spec_text: str | None = None, files: dict[str, str] | None = None) -> Path:
    """specs/tiny.ospec (or `spec_text` in its place) with specs/data/tiny and `files` (path under
    specs/ -> text), compiled, `dvc init`-ed."""
    path.mkdir(parents=True)
    shutil.copytree(ROOT / "runners", path / "runners", ignore=shutil.ignore_patterns("__pycache__"))
    (path / "specs").mkdir()
    shutil.copytree(ROOT / "specs/data/tiny", path / "specs/data/tiny",
                    ignore=shutil.ignore_patterns("__pycache__", "corpus", "make_corpus.py"))
    (path / "specs/tiny.ospec").write_text(spec_text or (ROOT / "specs/tiny.ospec").read_text())
    for rel, text in (files or {}).items():
        (path / "specs" / rel).write_text(text)
    subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(path), "compile",
                    str(path / "specs/tiny.ospec"), "--out", "."], check=True, capture_output=True)
    subprocess.run([DVC, "init", "-q", "--no-scm"], cwd=path, check=True, env=env())
    return path


def _has(st: dict, variant: str) -> bool:
    """Whether a stage belongs to `variant`, any of its seeds (`base` matches `base@seed2`)."""
    return any(v == variant or v.split("@")[0] == variant for v in st["meta"]["variants"])


def stage_name(repo: Path, prefix: str, variant: str = "base") -> str:
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return next(n for n, st in stages.items() if n.rsplit("-", 1)[0] == prefix and _has(st, variant))


def repro(repo: Path, *targets: str) -> subprocess.CompletedProcess:
    r = subprocess.run([DVC, "repro", *targets], cwd=repo, capture_output=True, text=True, env=env(), check=False)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    return r
