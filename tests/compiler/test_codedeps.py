"""A stage's code deps are derived from its runner's imports: every repository file the command
executes, none it does not, never a bytecode cache, and for any runner kind (file or package)."""

import hashlib
import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from dvc_repo import DVC, env, make_repo, repro, word_docs

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


def test_compiled_code_stage_lists_its_runner_files(tmp_path):
    repo = make_repo(tmp_path / "r", FLOW, git=False)
    dvc = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    code = dvc["code-train"]
    assert "olmospec/ir/train.py" in code["deps"] and "olmospec/arch.py" in code["deps"]
    assert "runners/train" not in code["deps"]  # files, not a folder whose hash sees __pycache__
    assert code["outs"] == ["runs/code-train/files.json"] and "olmospec/code_stage.py" in code["deps"]
    # each training stage depends on its kind's one hash file, not on the ~35 files it lists
    for st in (st for st in dvc.values() if st["meta"]["kind"] == "train"):
        assert "runs/code-train/files.json" in st["deps"] and not any(d.endswith(".py") for d in st["deps"])
    kinds = {st["meta"]["kind"] for st in dvc.values()} - {"code"}
    assert {n for n, st in dvc.items() if st["meta"]["kind"] == "code"} == {f"code-{k}" for k in kinds}


def test_a_pipeline_reuses_the_code_stages_the_root_pipeline_defines(tmp_path):
    compiled = render(load_text(FLOW, str(ROOT / "flow.ospec")), ROOT, str(tmp_path / "p"), spec_label="flow.ospec")
    dvc = yaml.safe_load(next(v for k, v in compiled.files.items() if k.endswith("dvc.yaml")))["stages"]
    assert not any(n.startswith("code-") for n in dvc)  # DVC allows one definition of runs/code-train/files.json
    assert all(f"runs/code-{st['meta']['kind']}/files.json" in st["deps"] for st in dvc.values())


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


CODE_SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 300  data = [a_clean] }
source a { path = "data/a.jsonl" }
curate a_clean from a { dedup exact }
"""


@pytest.mark.slow
def test_a_runner_edit_reruns_its_kind_through_its_code_stage(tmp_path):
    """Through `dvc repro` in a fresh repository: editing a file one runner imports reruns that kind's
    code stage and stages, and nothing else; editing a file no runner imports reruns nothing."""
    repo = make_repo(tmp_path / "r", CODE_SPEC, {"data/a.jsonl": word_docs(60, 20)})
    first = repro(repo).stdout
    assert "Running stage 'code-tokenizer'" in first and "Running stage 'code-curate'" in first
    locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    hashed = json.loads((repo / "runs/code-tokenizer/files.json").read_text())["files"]
    assert "runners/tokenizer.py" in hashed and all(len(h) == 64 for h in hashed.values())

    with open(repo / "runners/tokenizer.py", "a") as f:
        f.write("# an edit\n")
    assert set(json.loads(dvc_status(repo))) == {"code-tokenizer"}
    out = repro(repo).stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert ran == {"code-tokenizer", next(n for n in locked if n.startswith("tokenizer-"))}, out

    with open(repo / "olmospec/api.py", "a") as f:  # the compiler's code: no runner imports it
        f.write("# an edit\n")
    assert json.loads(dvc_status(repo)) == {}
    assert "Running stage" not in repro(repo).stdout


def dvc_status(repo: Path) -> str:
    return subprocess.run([DVC, "status", "--json"], cwd=repo, capture_output=True, text=True, env=env(),
                          check=True).stdout


def test_a_code_stage_whose_file_is_gone_says_so_and_writes_nothing(tmp_path, monkeypatch, capsys):
    from olmospec import code_stage

    monkeypatch.chdir(tmp_path)
    (tmp_path / "runners").mkdir()
    (tmp_path / "runners/a.py").write_text("x = 1\n")
    cfg = tmp_path / "code-a.json"
    cfg.write_text(json.dumps(code_stage.config("a", ["runners/a.py", "runners/gone.py"])))
    assert code_stage.main(["--config", str(cfg)]) == 1
    assert "error: a runner code: runners/gone.py: No such file or directory" in capsys.readouterr().err
    assert not (tmp_path / code_stage.output("a")).exists()
    cfg.write_text(json.dumps(code_stage.config("a", ["runners/a.py"])))
    assert code_stage.main(["--config", str(cfg)]) == 0
    written = json.loads((tmp_path / code_stage.output("a")).read_text())
    assert written == {"runner": "a", "files": {"runners/a.py": hashlib.sha256(b"x = 1\n").hexdigest()}}
