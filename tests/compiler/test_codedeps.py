"""A stage's code deps are derived from its runner's imports: every repository file the command
executes, none it does not, never a bytecode cache, and for any runner kind (file or package)."""

from pathlib import Path

import yaml

from olmospec.api import load_text
from olmospec.codedeps import runner_files
from olmospec.compile import render

from .flow import FLOW

ROOT = Path(__file__).resolve().parents[2]


def test_training_deps_include_the_code_it_runs():
    deps = runner_files(ROOT, "train")
    for f in ("olmospec/ir/train.py", "olmospec/ir/model.py", "olmospec/arch.py", "runners/common.py",
              "runners/train/__main__.py", "runners/train/loop.py", "runners/__init__.py"):
        assert f in deps, f
    assert not any("__pycache__" in d or d.endswith(".pyc") for d in deps)
    # the compiler itself is not a dependency of training (olmospec/__init__'s lazy API is not followed)
    assert "olmospec/api.py" not in deps and "olmospec/resolve.py" not in deps and "olmospec/grammar.lark" not in deps


def test_compiled_stage_lists_its_runner_files(tmp_path):
    compiled = render(load_text(FLOW, str(ROOT / "flow.ospec")), ROOT, str(tmp_path / "p"), spec_label="flow.ospec")
    dvc = yaml.safe_load(next(v for k, v in compiled.files.items() if k.endswith("dvc.yaml")))["stages"]
    train = next(st for st in dvc.values() if st["meta"]["kind"] == "train")
    assert "olmospec/ir/train.py" in train["deps"] and "olmospec/arch.py" in train["deps"]
    assert "runners/train" not in train["deps"]  # files, not a folder whose hash sees __pycache__


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_any_new_runner_kind_file_or_package(tmp_path):
    _write(tmp_path, {
        "runners/__init__.py": "",
        "runners/common.py": "import json\n",
        "runners/unused.py": "",
        "runners/pairs/__init__.py": "",
        "runners/pairs/__main__.py": ("from runners.pairs.sample import draw\nfrom . import util\n"
                                      "def main():\n    from runners.common import x  # lazy, still a dep\n"),
        "runners/pairs/sample.py": "from .backends import vllm\n",
        "runners/pairs/backends/__init__.py": "",
        "runners/pairs/backends/vllm.py": "import torch\nimport olmospec.ir.model\n",
        "runners/pairs/util.py": "import importlib\nSTEP = importlib.import_module('runners.pairs.dynamic')\n",
        "runners/pairs/dynamic.py": "",
        "runners/pairs/prompts/template.j2": "{{ x }}",
        "runners/pairs/README.md": "not data",
        "runners/pairs/__pycache__/sample.cpython-311.pyc": "bytecode",
        "runners/eval.py": "from evals.tasks import load\n",
        "evals/__init__.py": "",
        "evals/tasks/__init__.py": "",
        "evals/tasks/gsm8k.yaml": "task: gsm8k\n",
        "olmospec/__init__.py": "def __getattr__(name):\n    from olmospec import api\n",
        "olmospec/api.py": "",
        "olmospec/ir/__init__.py": "",
        "olmospec/ir/model.py": "from olmospec.ir.base import Frozen\n",
        "olmospec/ir/base.py": "",
    })
    assert runner_files(tmp_path, "pairs") == [
        "olmospec/__init__.py", "olmospec/ir/__init__.py", "olmospec/ir/base.py", "olmospec/ir/model.py",
        "runners/__init__.py", "runners/common.py", "runners/pairs/__init__.py", "runners/pairs/__main__.py",
        "runners/pairs/backends/__init__.py", "runners/pairs/backends/vllm.py", "runners/pairs/dynamic.py",
        "runners/pairs/prompts/template.j2", "runners/pairs/sample.py", "runners/pairs/util.py"]
    assert runner_files(tmp_path, "eval") == [
        "evals/__init__.py", "evals/tasks/__init__.py", "evals/tasks/gsm8k.yaml", "runners/__init__.py",
        "runners/eval.py"]
    assert runner_files(tmp_path, "missing") is None
