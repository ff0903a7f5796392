"""Importing the dedup modules pulls in no heavy optional dependency (torch, Ray, datasets, numba)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULES = ["io", "normalize", "executor", "stage", "exact", "minhash", "lsh", "unionfind", "substring"]


def test_imports_stay_light() -> None:
    code = (
        "import sys\n"
        + "".join(f"import runners.curation.{m}\n" for m in MODULES)
        + "print(sorted(m for m in ('torch', 'ray', 'datasets', 'numba', 'pyarrow') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
