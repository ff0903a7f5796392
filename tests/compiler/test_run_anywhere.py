"""A researcher's own spec runs, as a user runs it, in a fresh git repository: a spec outside
`specs/` compiles to `pipelines/<name>/` (not git-ignored, so DVC accepts it; `runs/` stays
ignored), `olmospec run` works from a sub-folder, and the compiled pipeline then runs through plain
`dvc repro` from a shell whose PATH has no project Python: the `stages/python` launcher finds the
project's `.venv` (and without one fails with a clear message). A stage the root pipeline already
defines is reused, not defined twice. `olmospec run --dry` writes nothing and runs no `dvc init`."""

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))
GIT_ID = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
          "GIT_COMMITTER_EMAIL": "t@example.com"}

COMMON = """
olmospec 1
tokenizer tok { train = bpe  vocab = 300  data = [a, b] }
source a { path = "../data/a/*.jsonl" }
source b { path = "../data/b.jsonl.gz" }
"""
BASE = COMMON  # the project's default spec: its stages are the root pipeline's
MINE = COMMON + """
source c { path = "../data/c.jsonl" }  # only in this spec
# b: 3x inside `inner`, but `inner` is capped at 2x here; a is reached twice and is one component
mix inner { a 50%  b 50% { max_repeat = 3x } }
mix outer { a 40%  inner 60% { max_repeat = 2x }  tokens = 600 tokens }
model m { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok  attention = repeat(window(16), full) }
stage pretrain { model = m  data = outer  tokens = 600 tokens  seq = 32  batch = 4 seqs  lr = 1e-3 }
"""


def _env(**extra) -> dict:
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", **GIT_ID, **extra}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env["PATH"]])
    return env


def _plain_env() -> dict:
    """A shell without the project's Python: no venv on PATH, no PYTHONPATH, no VIRTUAL_ENV."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "DVC_NO_ANALYTICS": "1",
            "LANG": "C.UTF-8", **GIT_ID}


def sh(cmd, cwd, env=None, ok=True):
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env or _env(), check=False)
    if ok:
        assert r.returncode == 0, f"{cmd}: {r.stdout}\n{r.stderr}"
    return r


def olmospec(*args, cwd):
    return sh([sys.executable, "-m", "olmospec.cli", *args], cwd)


def _words(i: int, n: int) -> str:
    vocab = ["alpha", "beta", "gamma", "delta", "model", "token", "shard", "mix", "curve", "seed"]
    return " ".join(vocab[(i * 7 + k * 3) % len(vocab)] for k in range(n))


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    for part in ("runners", "olmospec"):
        shutil.copytree(ROOT / part, repo / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in (".gitignore", ".dvcignore"):
        shutil.copy(ROOT / f, repo / f)
    (repo / "pyproject.toml").write_text('[tool.olmospec]\ndefault_spec = "specs/base.ospec"\n')
    (repo / "data/a").mkdir(parents=True)
    (repo / "data/c.jsonl").write_text(json.dumps({"id": "c0", "text": _words(0, 20)}) + "\n")
    (repo / "data/a/part-0.jsonl").write_text("".join(json.dumps({"id": f"a{i}", "text": _words(i, 30)}) + "\n"
                                                      for i in range(40)))
    with gzip.open(repo / "data/b.jsonl.gz", "wt") as f:
        f.writelines(json.dumps({"id": f"b{i}", "text": _words(i + 99, 10)}) + "\n" for i in range(8))
    (repo / "specs").mkdir()
    (repo / "specs/base.ospec").write_text(BASE)
    (repo / "experiments").mkdir()
    (repo / "experiments/mine.ospec").write_text(MINE)
    sh(["git", "init", "-q"], repo)
    return repo


def _snapshot(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in sorted(repo.rglob("*"))
            if p.is_file() and ".git/" not in str(p.relative_to(repo)) + "/" and "__pycache__" not in p.parts}


def test_run_dry_writes_nothing_and_inits_nothing(tmp_path):
    repo = _repo(tmp_path)
    before = _snapshot(repo)
    r = olmospec("run", "experiments/mine.ospec", "--dry", cwd=repo)
    assert "would run `dvc repro` on" in r.stdout and "would first write" in r.stdout
    assert _snapshot(repo) == before and not (repo / ".dvc").exists() and not (repo / "pipelines").exists()


def test_two_pipelines_never_define_one_stage(tmp_path):
    """Compiled before the root pipeline had them, a pipeline defines stages the root now defines too:
    DVC would refuse the whole repository, so `olmospec run` says which pipeline to recompile."""
    repo = _repo(tmp_path)
    olmospec("compile", "experiments/mine.ospec", cwd=repo)  # no root pipeline yet: defines everything
    r = sh([sys.executable, "-m", "olmospec.cli", "run", "specs/base.ospec", "--stage", "manifest-a"], repo, ok=False)
    assert r.returncode == 1 and "are defined by dvc.yaml and pipelines/mine/dvc.yaml" in r.stderr, r.stderr
    assert "olmospec compile experiments/mine.ospec" in r.stderr and not (repo / ".dvc").exists()
    olmospec("compile", "experiments/mine.ospec", cwd=repo)  # now it reuses the root's stages
    mine = yaml.safe_load((repo / "pipelines/mine/dvc.yaml").read_text())["stages"]
    assert not any(n.startswith(("manifest-a-", "tokenizer-")) for n in mine)


@pytest.mark.slow
def test_a_spec_of_your_own_runs_through_olmospec_run_and_plain_dvc_repro(tmp_path):
    repo = _repo(tmp_path)
    olmospec("compile", "specs/base.ospec", cwd=repo)  # the project's default pipeline: root dvc.yaml
    # from a sub-folder: the root is found (git top level), the spec compiles to pipelines/mine/
    r = olmospec("run", "mine.ospec", "--stage", "manifest-c", "--stage", "manifest-a", cwd=repo / "experiments")
    assert "dvc repro: 3 stage(s)" in r.stdout, r.stdout  # the tokenizer and the two manifests
    mine = yaml.safe_load((repo / "pipelines/mine/dvc.yaml").read_text())["stages"]
    root_stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    shared = next(n for n in root_stages if n.startswith("manifest-a-"))
    assert shared not in mine and not any(n.startswith("tokenizer-") for n in mine)  # defined once, by the root
    assert sh(["git", "check-ignore", "-q", "pipelines/mine/dvc.yaml"], repo, ok=False).returncode == 1
    assert sh(["git", "check-ignore", "-q", "runs/x"], repo, ok=False).returncode == 0
    lock = yaml.safe_load((repo / "pipelines/mine/dvc.lock").read_text())["stages"]
    manifest_c = next(n for n in lock if n.startswith("manifest-c-"))
    md5 = lock[manifest_c]["outs"][0]["md5"]
    assert shared in yaml.safe_load((repo / "dvc.lock").read_text())["stages"]

    # a new document; plain `dvc repro` from a shell with no project Python on PATH
    with open(repo / "data/c.jsonl", "a") as f:
        f.write(json.dumps({"id": "c1", "text": "a new document about curves"}) + "\n")
    target = f"pipelines/mine/dvc.yaml:{manifest_c}"
    fail = sh([DVC, "repro", target], repo, env=_plain_env(), ok=False)
    assert fail.returncode != 0 and "no Python with the project installed" in fail.stdout + fail.stderr
    (repo / ".venv").symlink_to(sys.prefix)  # what `make install` creates
    sh([DVC, "repro", target], repo, env=_plain_env())
    lock = yaml.safe_load((repo / "pipelines/mine/dvc.lock").read_text())["stages"]
    assert lock[manifest_c]["outs"][0]["md5"] != md5
    assert json.loads((repo / "runs" / manifest_c / "manifest.json").read_text())["totals"]["docs"] == 2
    assert "changed" not in sh([DVC, "status", target], repo, env=_plain_env()).stdout
    # --dry on a current pipeline asks `dvc status` and changes no file of the project
    before = {k: v for k, v in _snapshot(repo).items() if not k.startswith(".dvc/tmp")}
    dry = olmospec("run", "experiments/mine.ospec", "--dry", cwd=repo)
    assert "out of date now (dvc status):" in dry.stdout and "would first write" not in dry.stdout
    assert {k: v for k, v in _snapshot(repo).items() if not k.startswith(".dvc/tmp")} == before

    # issue 8 (4b): the nested mix keeps its entry's cap and `a` is one component
    olmospec("run", "experiments/mine.ospec", "--stage", "mix-outer", cwd=repo)
    mix = next((repo / "runs").glob("mix-outer-*"))
    cfg = json.loads((repo / "pipelines/mine/stages" / f"{mix.name}.json").read_text())
    comps = {c["name"]: (c["share"], c["max_repeat"]) for c in cfg["components"]}
    assert comps == {"a": (pytest.approx(0.7), 2.0), "b": (pytest.approx(0.3), 2.0)}
    plan = {r["source"]: r for r in json.loads((mix / "mix.json").read_text())["sources"]}
    assert set(plan) == {"a", "b"} and plan["b"]["max_repetition"] == 2.0 and plan["b"]["epochs"] > 1
