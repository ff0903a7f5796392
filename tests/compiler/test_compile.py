"""The compiler's output: byte-identical, unchanged by fmt/comments/block order, stale detection."""

import subprocess
import sys
from pathlib import Path

import yaml

from olmospec.api import load_spec, load_text
from olmospec.compile import render, stale, write
from olmospec.fmt import format_spec
from olmospec.parser import parse
from tests.compiler.flow import FLOW

ROOT = Path(__file__).resolve().parents[2]


def files(text, tmp_path):
    return render(load_text(text, str(tmp_path / "flow.ospec")), tmp_path, "out", spec_label="flow.ospec").files


def test_compile_twice_byte_identical(tmp_path):
    a = render(load_spec(ROOT / "specs/olmo3_7b.ospec"), ROOT, "pipelines/x").files
    b = render(load_spec(ROOT / "specs/olmo3_7b.ospec"), ROOT, "pipelines/x").files
    assert a == b
    assert len(a) > 100


def test_fmt_comments_and_order_leave_dvc_yaml_unchanged(tmp_path):
    base = files(FLOW, tmp_path)
    formatted = format_spec(parse(FLOW, "flow.ospec"))
    commented = "# a header\n" + FLOW.replace("stage sft", "# SFT\nstage sft").replace("schedule linear }", "schedule linear }  # trailing")
    head, *stages = FLOW.strip().split("\nstage ")
    reordered = "\n".join(["stage " + s for s in reversed(stages)]) + "\n" + head
    for text in (formatted, commented, reordered):
        assert files(text, tmp_path) == base


def test_dvc_yaml_shape(tmp_path):
    f = files(FLOW, tmp_path)
    dvc = yaml.safe_load(f["out/dvc.yaml"])
    assert f["out/dvc.yaml"].startswith("# GENERATED")
    for name, st in dvc["stages"].items():
        kind = st["meta"]["kind"]
        module = "olmospec.code_stage" if kind == "code" else f"runners.{kind}"
        assert st["cmd"] == f"sh out/stages/python -m {module} --config out/stages/{name}.json"
        assert st["deps"][0] == f"out/stages/{name}.json"
        assert st["wdir"] == ".."
        assert all(str(o if isinstance(o, str) else next(iter(o))).startswith(f"runs/{name}/") for o in st["outs"])
        assert "foreach" not in st and "matrix" not in st
        assert f"out/stages/{name}.json" in f
    train = [st for st in dvc["stages"].values() if st["meta"]["kind"] == "train"]
    assert any("plots" in st for st in train) and all("metrics" in st for st in train)


def test_runtime_lives_outside_the_tracked_config(tmp_path):
    f = files(FLOW, tmp_path)
    g = files(FLOW.replace("procs_per_node = 2", "procs_per_node = 4"), tmp_path)
    changed = sorted(k for k in set(f) | set(g) if f.get(k) != g.get(k))
    assert changed and all(k.endswith(".runtime.json") for k in changed)


def test_check_detects_stale_and_write_cleans_up(tmp_path):
    exp = load_text(FLOW, str(tmp_path / "flow.ospec"))
    c = render(exp, tmp_path, "out")
    assert stale(c, tmp_path)
    write(c, tmp_path)
    assert stale(c, tmp_path) == []
    extra = tmp_path / "out/stages/old-00000000.json"
    extra.write_text("{}")
    assert "out/stages/old-00000000.json" in stale(c, tmp_path)
    write(c, tmp_path)
    assert not extra.exists()
    c2 = render(load_text(FLOW.replace("lr = 1e-3\n  schedule cosine", "lr = 2e-3\n  schedule cosine"),
                          str(tmp_path / "flow.ospec")), tmp_path, "out")
    assert stale(c2, tmp_path)


def test_cli_compile_check_exit_codes(tmp_path):
    spec = tmp_path / "flow.ospec"
    spec.write_text(FLOW)
    run = lambda *a: subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(tmp_path), *a],
                                    capture_output=True, text=True, check=False)
    assert run("compile", str(spec), "--check").returncode == 1
    assert run("compile", str(spec)).returncode == 0
    assert (tmp_path / "pipelines/flow/dvc.yaml").exists()
    assert run("compile", str(spec), "--check").returncode == 0
