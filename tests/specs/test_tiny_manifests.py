"""`dvc repro` of the tiny spec's manifest stages (and the tokenizer they count with), for real, in a
copy of the project: every tiny source gets a manifest with files, bytes, documents, tokens and
content hashes."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_repro_tiny_manifests(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    for part in ("runners", "olmospec", "evals", "stages", "specs"):  # the code stages run and depend on
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "dvc.yaml", repo / "dvc.yaml")
    env = {**os.environ, "DVC_NO_ANALYTICS": "1",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    dvc = str(Path(sys.executable).with_name("dvc"))
    subprocess.run([dvc, "init", "-q", "--no-scm"], cwd=repo, check=True, env=env)
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    manifests = sorted(n for n, st in stages.items() if st["meta"]["kind"] == "manifest")
    r = subprocess.run([dvc, "repro", *manifests], cwd=repo, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    sources = set()
    for name in manifests:
        m = json.loads((repo / "runs" / name / "manifest.json").read_text())
        sources.add(m["source"])
        t = m["totals"]
        assert t["files"] >= 1 and t["docs"] > 0 and t["bytes"] > 0 and t["tokens"] > 0, name
        assert t["rejects"] == 0, name
        assert all(len(f["sha256"]) == 64 for f in m["files"])
    assert sources == {"web_raw", "pdfs_raw", "code", "math_pretrain", "quality_pos", "quality_neg", "math_mid",
                       "flan", "long_docs", "sft_chat", "dpo_prompts", "rl_prompts", "ruler_text"}
