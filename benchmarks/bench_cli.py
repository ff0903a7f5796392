"""Whole-process speed of the compiler front end, against a bare interpreter start measured in the
same run (the named baseline: `python -c pass`).

Goals (issue: spec language): `olmospec check specs/olmo3_7b.ospec` under 1 s, `olmospec compile`
of the 7B spec under 2 s, as whole processes on the project's 2-core machine.

    .venv/bin/python -m pytest benchmarks/bench_cli.py --benchmark-only
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args):
    subprocess.run([sys.executable, *args], cwd=ROOT, check=True, capture_output=True)


def test_baseline_python_start(benchmark):
    benchmark.pedantic(_run, args=("-c", "pass"), rounds=5, iterations=1)


def test_check_7b(benchmark):
    benchmark.pedantic(_run, args=("-m", "olmospec.cli", "check", "specs/olmo3_7b.ospec"), rounds=5, iterations=1)


def test_compile_7b(benchmark, tmp_path):
    benchmark.pedantic(_run, args=("-m", "olmospec.cli", "compile", "specs/olmo3_7b.ospec", "--out",
                                   str(tmp_path / "p")), rounds=5, iterations=1)
