"""Evaluation through the user's path: a spec compiled and run by `dvc repro` in a fresh git repository,
on the tiny corpus's real web text with its planted evaluation items.

- the contamination check of the pretraining data reports the planted items when the ablation turns
  decontamination off, and none when the data went through the decontamination step (per benchmark
  and stage), with the same rule the step uses;
- the eval stages run lm-eval on each variant's HF export; the report stage ends the pipeline with the
  table written, flagging exactly the contaminated variant's cells;
- `olmospec report` marks every cell stale after an input of its evals changes, and none before.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DVC = str(Path(sys.executable).with_name("dvc"))
DATA = ROOT / "specs/data/tiny"
SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }
source web_raw { path = "data/web/*.jsonl.zst" }
task math { path = "data/evals/math.jsonl"  type = generate  metric = exact_match  limit = 12  max_response = 8 tokens }
task mc { path = "data/evals/mc.jsonl"  type = multiple_choice  metric = acc  limit = 12 }
curate web from web_raw {
  decontaminate { against = evals  ngram = 8  min_overlap = 50% }
}
mix m { web 100% { max_repeat = 10x } }
model tiny {
  d_model = 32  layers = 2  heads = 2  kv_heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}
stage pretrain {
  model = tiny  data = m  steps = 3  seq = 64  batch = 4 seqs  lr = 1e-3
  runtime { device = cpu  threads = 1 }
}
eval base_suite after pretrain {
  tasks = [math, mc]  contamination = check
  runtime { device = cpu  threads = 1 }
}
ablation no_decontamination { web.decontaminate = off }
report main { rows = variants  columns = [math, mc]  baseline = base  format = [markdown, csv, html] }
report claims {
  rows = findings  format = [csv]
  finding decon {
    claim = "decontamination lowers the flagged items' score, relative to the clean ones"
    task = math  metric = gold_logprob  items = flagged  relative_to = clean
    measure = base.pretrain  against = no_decontamination.pretrain  expect = lower
  }
}
"""


def _env():
    return {**os.environ, "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "PYTHONPATH": "", "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def _repo(path: Path) -> Path:
    path.mkdir(parents=True)
    for pkg in ("runners", "evals", "olmospec"):
        shutil.copytree(ROOT / pkg, path / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for sub in ("web", "evals"):
        shutil.copytree(DATA / sub, path / "data" / sub)
    (path / "flow.ospec").write_text(SPEC)
    _git(path, "init", "-q")
    subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(path), "compile", str(path / "flow.ospec"),
                    "--out", "."], cwd=path, check=True, capture_output=True, env=_env())
    subprocess.run([DVC, "init", "-q"], cwd=path, check=True, env=_env())
    _git(path, "add", "-A")
    _git(path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "flow")
    return path


def _stage_dirs(repo: Path, prefix: str) -> list[Path]:
    return sorted(p for p in (repo / "runs").iterdir() if p.name.startswith(prefix))


def _variants(repo: Path, stage_dir: Path) -> list[str]:
    import yaml

    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"][stage_dir.name]["meta"]["variants"]


@pytest.mark.slow
def test_contamination_eval_and_report_through_dvc_repro(tmp_path):
    repo = _repo(tmp_path / "flow")
    r = subprocess.run([DVC, "repro"], cwd=repo, capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    planted = json.loads((DATA / "web/_planted.json").read_text())["contamination"]
    planted_web = {(p["eval_set"], p["eval_id"]) for p in planted if p["source"] == "web"}
    checks = {tuple(_variants(repo, d)): json.loads((d / "contamination.json").read_text())
              for d in _stage_dirs(repo, "contamination-pretrain-")}
    before, after = checks[("no_decontamination",)], checks[("base",)]
    assert before["stage"] == after["stage"] == "pretrain"
    found_before = {(t, i) for t, rep in before["tasks"].items() for i in rep["found"]}
    # every item found in the raw web text is a planted one, and most planted items are found
    # (the others were edited below the 50% overlap, so the decontamination step misses them too)
    assert found_before <= planted_web
    assert len(found_before) >= 0.75 * len(planted_web)
    assert {t for t, _ in found_before} == {"math", "mc"}
    assert all(rep["items_found"] == 0 for rep in after["tasks"].values()), after["tasks"]
    removed = json.loads((_stage_dirs(repo, "web-decontaminate-")[0] / "stats.json").read_text())["report"]
    assert {t: r["items_found"] for t, r in removed.items()} == {t: r["items_found"] for t, r in before["tasks"].items()}

    # each eval carries its model's contamination, per benchmark and training stage
    evals = {tuple(_variants(repo, d)): json.loads((d / "metrics.json").read_text())
             for d in _stage_dirs(repo, "eval-base_suite-pretrain-")}
    dirty, clean = evals[("no_decontamination",)], evals[("base",)]
    assert dirty["contamination"]["math"]["pretrain"]["items_found"] == before["tasks"]["math"]["items_found"] > 0
    assert clean["contamination"]["math"]["pretrain"]["items_found"] == 0
    assert dirty["tasks"]["mc"]["n"] == 12 and dirty["backend"] == "hf"

    # the report stage ran last and flags exactly the contaminated variant's cells
    report = _stage_dirs(repo, "report-main-")[0] / "report"
    md = (report / "main.md").read_text()
    base_line = next(line for line in md.splitlines() if line.startswith("| base"))
    dirty_line = next(line for line in md.splitlines() if line.startswith("| no_decontamination"))
    assert "†" not in base_line and dirty_line.count("†") == 2
    assert (report / "main.html").exists() and (report / "main.csv").exists()
    assert "‡" not in base_line + dirty_line

    # the findings report reads relative_to: each arm's value is its mean on the flagged items minus
    # its mean on the clean ones, from the eval stages' own per-item scores
    claims_csv = (_stage_dirs(repo, "report-claims-")[0] / "report/claims.csv").read_text()
    claim = next(csv.DictReader(claims_csv.splitlines()))
    eval_dirs = {_variants(repo, d)[0]: d for d in _stage_dirs(repo, "eval-base_suite-pretrain-")}
    flagged = set(json.loads((eval_dirs["no_decontamination"] / "contamination.json").read_text())
                  ["math"]["pretrain"]["found"])
    scores = {v: json.loads((d / "scores.json").read_text())["math"] for v, d in eval_dirs.items()}
    flagged &= set(scores["base"]["ids"])  # the 12 evaluated items
    assert claim["relative_to"] == "clean" and int(claim["n_items"]) == len(flagged) > 0
    assert int(claim["n_items"]) + int(claim["n_relative"]) == 12 and int(claim["n_relative"]) > 0
    for arm, variant in (("measure", "base"), ("against", "no_decontamination")):
        by_id = dict(zip(scores[variant]["ids"], scores[variant]["gold_logprob"], strict=True))
        gap = (sum(v for i, v in by_id.items() if i in flagged) / len(flagged)
               - sum(v for i, v in by_id.items() if i not in flagged) / (len(by_id) - len(flagged)))
        assert float(claim[f"{arm}_mean"]) == pytest.approx(gap, abs=1e-4), arm

    # olmospec report on the same outputs: nothing stale; after an eval input changes, every cell is
    cli = [sys.executable, "-m", "olmospec.cli", "--root", str(repo), "report", str(repo / "flow.ospec"),
           "--format", "md", "--out", str(tmp_path / "out")]
    r = subprocess.run(cli, cwd=repo, capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stderr
    fresh = (tmp_path / "out/main.md").read_text()
    assert fresh.split("## Provenance")[0] == md.split("## Provenance")[0]  # same table, nothing stale
    with open(repo / "data/evals/mc.jsonl", "a") as f:
        f.write(json.dumps({"id": "mc-new", "question": "What is 1 + 1?", "choices": ["2", "3"], "label": 0}) + "\n")
    r = subprocess.run(cli, cwd=repo, capture_output=True, text=True, env=_env(), check=False)
    assert r.returncode == 0, r.stderr
    stale = (tmp_path / "out/main.md").read_text()
    rows = [line for line in stale.splitlines() if line.startswith(("| base", "| no_decontamination"))]
    assert all(cell.strip().endswith("‡") for line in rows for cell in line.strip("|").split("|")[1::2]), rows
    assert "dvc.lock eval-base_suite-pretrain-" in stale
