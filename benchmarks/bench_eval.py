"""Whole-process time of the tiny spec's eval stages on their trained exports, against lm-eval's own
command line running the same task files on the same export in the same run (the named baseline).

Goal (issue: evaluation): one eval stage of the tiny spec in about 20-30 s on the project's 2-core
machine, so the demo's many eval stages (one per evaluated stage and variant) fit its budget. The
stage loads lm-eval and transformers once, indexes only its own tasks (lm-eval's CLI indexes its
~14,000 built-in ones) and checks every task file before loading the model.

Needs the base variant trained up to the stages measured (`olmospec run specs/tiny.ospec --stage sft
--variant base`); a stage whose model is not there is skipped, saying so.

    .venv/bin/python -m pytest benchmarks/bench_eval.py --benchmark-only
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _stage(label: str) -> tuple[str, dict]:
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    sid = next(s for s, st in stages.items() if s.startswith(label) and any(v.split("@")[0] == "base" for v in st["meta"]["variants"]))
    cfg = json.loads((ROOT / "stages" / f"{sid}.json").read_text())
    if not (ROOT / cfg["model"] / "model.safetensors").exists():
        pytest.skip(f"{cfg['model']} is not trained yet (olmospec run specs/tiny.ospec --stage {cfg['stage']})")
    return sid, cfg


def _eval_stage(sid: str, tmp: Path) -> None:
    cfg = json.loads((ROOT / "stages" / f"{sid}.json").read_text())
    cfg["output"] = str(tmp / "out")
    (tmp / "c.json").write_text(json.dumps(cfg))
    (tmp / "c.runtime.json").write_text((ROOT / "stages" / f"{sid}.runtime.json").read_text())
    subprocess.run([sys.executable, "-m", "runners.eval", "--config", str(tmp / "c.json")], cwd=ROOT, check=True,
                   capture_output=True)


@pytest.mark.parametrize("label", ["eval-chat-sft-", "eval-base_suite-longctx-", "eval-ruler-longctx-"])
def test_eval_stage(benchmark, tmp_path, label):
    sid, _ = _stage(label)
    benchmark.pedantic(_eval_stage, args=(sid, tmp_path), rounds=1, iterations=1)


def test_baseline_lm_eval_cli_same_tasks(benchmark, tmp_path):
    sid, cfg = _stage("eval-chat-sft-")
    _eval_stage(sid, tmp_path)  # writes the task files the CLI runs
    tasks = ",".join(p.stem for p in sorted((tmp_path / "out/tasks").glob("*.yaml")))
    cmd = [str(Path(sys.executable).with_name("lm-eval")), "run", "--model", "hf", "--model_args",
           f"pretrained={cfg['model']},dtype=float32", "--device", "cpu", "--include_path", str(tmp_path / "out/tasks"),
           "--tasks", tasks, "--batch_size", str(cfg["batch"]), "--seed", str(cfg["seed"]), "--apply_chat_template",
           "--output_path", str(tmp_path / "cli")]
    benchmark.pedantic(subprocess.run, args=(cmd,), kwargs={"cwd": ROOT, "check": True, "capture_output": True},
                       rounds=1, iterations=1)
