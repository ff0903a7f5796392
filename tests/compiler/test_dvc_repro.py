"""A real DVC round trip: compile a spec in a fresh git + DVC repo, `dvc repro` its manifest stages,
edit one source, and check through `dvc status` and dvc.lock that only the affected stage reruns."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from olmospec.api import load_spec
from olmospec.compile import render, write

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))

SPEC = """
olmospec 1
source alpha { path = "data/alpha/*.jsonl" }
source beta { path = "data/beta.jsonl.gz" }
"""


def sh(cmd, cwd):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
    return r.stdout


def lock_md5(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {name: st["outs"][0]["md5"] for name, st in lock["stages"].items()}


@pytest.mark.slow
def test_repro_then_edit_one_source(tmp_path):
    import gzip

    repo = tmp_path / "repo"
    (repo / "data/alpha").mkdir(parents=True)
    shutil.copytree(ROOT / "runners", repo / "runners", ignore=shutil.ignore_patterns("__pycache__"))
    (repo / "data/alpha/part-0.jsonl").write_text("".join(json.dumps({"id": f"a{i}", "text": f"alpha {i}"}) + "\n"
                                                          for i in range(5)))
    with gzip.open(repo / "data/beta.jsonl.gz", "wt") as f:
        f.write('{"id": "b0", "text": "beta"}\n{"id": "b1", "text": 7}\n')
    (repo / "flow.ospec").write_text(SPEC)
    sh(["git", "init", "-q"], repo)
    sh([DVC, "init", "-q"], repo)
    write(render(load_spec(repo / "flow.ospec"), repo, "."), repo)
    sh([DVC, "repro"], repo)
    before = lock_md5(repo)
    assert len(before) == 3 and "code-manifest" in before  # the two manifests and their runner's code stage
    alpha = next(n for n in before if n.startswith("manifest-alpha"))
    beta = next(n for n in before if n.startswith("manifest-beta"))
    m = json.loads((repo / "runs" / beta / "manifest.json").read_text())
    assert m["totals"]["docs"] == 1 and m["totals"]["rejects"] == 1  # the bad record is counted, not dropped
    assert "changed" not in sh([DVC, "status"], repo)

    with open(repo / "data/alpha/part-0.jsonl", "a") as f:
        f.write(json.dumps({"id": "a99", "text": "a new document"}) + "\n")
    status = sh([DVC, "status", "--json"], repo)
    assert set(json.loads(status)) == {alpha}
    out = sh([DVC, "repro"], repo)
    assert f"Running stage '{alpha}'" in out and f"Running stage '{beta}'" not in out
    after = lock_md5(repo)
    assert after[beta] == before[beta] and after[alpha] != before[alpha]
    assert json.loads((repo / "runs" / alpha / "manifest.json").read_text())["totals"]["docs"] == 6
    receipt = json.loads((repo / "runs" / alpha / "receipt.json").read_text())
    assert receipt["stage_id"] == alpha and receipt["config_hash"]
