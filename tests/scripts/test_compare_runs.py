"""scripts/compare_runs.py finds the one output that differs between two lock files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "compare_runs.py"


def _lock(path: Path, weights_md5: str, extra_stage: bool = False) -> Path:
    stages = {"train-1": {"outs": [{"path": "runs/train-1/hf", "md5": weights_md5},
                                   {"path": "runs/train-1/receipt.json", "md5": weights_md5 + "r"},
                                   {"path": "runs/train-1/metrics.json", "md5": "m1"}]}}
    if extra_stage:
        stages["eval-2"] = {"outs": [{"path": "runs/eval-2/scores.json", "md5": "s"}]}
    path.write_text(yaml.safe_dump({"schema": "2.0", "stages": stages}))
    return path


def _run(a: Path, b: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(a), str(b)], capture_output=True, text=True, check=False)


def test_equal_runs_pass_and_receipts_do_not_count(tmp_path):
    r = _run(_lock(tmp_path / "a.lock", "w1"), _lock(tmp_path / "b.lock", "w1", extra_stage=True))
    assert r.returncode == 0, r.stdout
    assert "stages in both: 1 (only in the first: 0, only in the second: 1); outputs equal: 2, differing: 0" in r.stdout


def test_a_differing_output_is_named(tmp_path):
    r = _run(_lock(tmp_path / "a.lock", "w1"), _lock(tmp_path / "b.lock", "w2"))
    assert r.returncode == 1
    assert "differs: train-1 runs/train-1/hf" in r.stdout and "receipt" not in r.stdout


def test_a_missing_lock_file_is_an_error_not_a_traceback(tmp_path):
    r = _run(_lock(tmp_path / "a.lock", "w1"), tmp_path / "nowhere.lock")
    assert r.returncode == 1 and "nowhere.lock" in r.stderr and "Traceback" not in r.stderr
