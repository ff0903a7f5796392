"""`import olmospec` (and checking/compiling a spec) must not import torch or other heavy libraries:
`olmospec check` answers in well under a second."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "datasets", "lm_eval", "vllm", "ray", "runners", "matplotlib", "evals")


def test_import_and_compile_do_not_import_heavy_libraries():
    code = (
        "import sys, olmospec\n"
        "from olmospec.api import load_spec\n"
        "from olmospec.compile import render\n"
        "import olmospec.report, olmospec.report_render, olmospec.report_cli, olmospec.provenance\n"
        "from pathlib import Path\n"
        "render(load_spec('specs/olmo3_7b.ospec'), Path('.'), 'pipelines/x')\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_subcommand_has_help():
    for cmd in ("check", "fmt", "schema", "plan", "graph", "diff", "compile", "run", "report"):
        r = subprocess.run([sys.executable, "-m", "olmospec.cli", cmd, "--help"], cwd=ROOT, capture_output=True,
                           text=True, check=False)
        assert r.returncode == 0 and "usage: olmospec" in r.stdout, cmd
