"""The GPU benchmark (benchmarks/gpu/), checked here so that its first run on a GPU machine is not also
its first run: its spec compiles to the shapes it promises, the planner's FLOPs formula agrees with
the models the runner builds at those shapes, and its CPU smoke mode runs the whole path (compile the
spec, run the compiled stages by their own commands, generate, evaluate, write the JSON) in a fresh
project folder; the imports of that run are what decides which wheels the GPU machine needs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from train_helpers import REPO, runner_env

BENCH = REPO / "benchmarks" / "gpu"
sys.path.insert(0, str(BENCH))

import measure  # the benchmark's own modules, beside its script
import pipeline
import wheels

DATA = ("specs/data/tiny/web/web-0000.jsonl.zst", "specs/data/tiny/web/web-0001.jsonl.zst",
        "specs/data/tiny/web/web-0002.jsonl.zst", "specs/data/tiny/evals/mc.jsonl")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A fresh project folder: the code, the benchmark's specs and the data they read."""
    root = tmp_path_factory.mktemp("bench")
    for pkg in ("runners", "olmospec", "evals"):
        shutil.copytree(REPO / pkg, root / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "benchmarks/gpu").mkdir(parents=True)
    for spec in BENCH.glob("*.ospec"):
        shutil.copy(spec, root / "benchmarks/gpu" / spec.name)
    for rel in DATA:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / rel, root / rel)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def _compile(root: Path, spec: str, out: str) -> dict[str, pipeline.Stage]:
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(root), "compile",
                        str(root / "benchmarks/gpu" / spec), "--out", out], capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return pipeline.load(root / out)


def _config(root: Path, st: pipeline.Stage) -> dict:
    from olmospec.stage_io import read_stage_config

    return read_stage_config(root / st.config)


def test_gpu_spec_compiles_to_the_shapes_it_promises(project):
    stages = _compile(project, "olmo3_1b.ospec", "gpu-pipeline")
    one = _config(project, pipeline.find(stages, "train_1b"))
    m = one["model"]
    assert (m["d_model"], m["n_layers"], m["n_heads"], m["mlp_hidden"]) == (2048, 16, 16, 8192)
    assert m["attention_pattern"] == [4096, 4096, 4096, None] and one["seq_len"] == 8192
    rt = one["runtime"]
    assert rt["compile"] and rt["device"] == "cuda" and rt["dtype"] == "auto" and rt["nproc_per_node"] == 1
    block = _config(project, pipeline.find(stages, "block_7b"))
    b = block["model"]
    assert (b["d_model"], b["n_heads"], b["n_kv_heads"], b["mlp_hidden"], block["seq_len"]) == (4096, 32, 32, 11008, 8192)
    assert b["n_layers"] == 24 and block["runtime"]["activation_checkpointing"] and block["runtime"]["compile"]
    fallback = _config(project, pipeline.find(stages, "block_7b", variant="block_7b_16_layers"))
    assert fallback["model"]["n_layers"] == 16
    ev = _config(project, pipeline.find(stages, "eval-bench_eval-train_1b"))
    assert ev["model"] == f"{pipeline.find(stages, 'train_1b').output}/hf" and [t["name"] for t in ev["tasks"]] == ["mc"]
    for name in ("train_1b", "block_7b"):  # the planner's FLOPs against the models built at full size (on meta)
        check = measure.flops_check(project / pipeline.find(stages, name).config)
        assert check["agree"] and check["params"] == check["params_built_model"], check


def test_a_stage_past_its_deadline_is_ended(tmp_path):
    stage = pipeline.Stage(id="slow-00000000", kind="train", cmd="sleep 120", config="x.json", deps=(), outs=(),
                           variants=("base",))
    r = pipeline.run(stage, tmp_path, runner_env(), tmp_path / "log", deadline_s=1, poll_s=0.2)
    assert r.stopped == "deadline" and r.rc is None and r.seconds < 30


def test_runtime_overrides_are_validated_and_restored(project):
    stages = _compile(project, "smoke.ospec", "override-pipeline")
    st = pipeline.find(stages, "train_1b")
    path = project / st.runtime_file
    before = path.read_text()
    rt, saved = pipeline.set_runtime(st, project, {"micro_batch": 2, "fused_optimizer": True})
    assert json.loads(path.read_text())["micro_batch"] == 2 and rt["fused_optimizer"] is True
    pipeline.restore_runtime(st, project, saved)
    assert path.read_text() == before
    with pytest.raises(ValidationError):
        pipeline.set_runtime(st, project, {"micro_bach": 2})


@pytest.mark.slow
def test_smoke_mode_runs_the_benchmark_path_on_cpu(project, tmp_path):
    audit = tmp_path / "imports"
    env = runner_env()
    env.update(PYTHONPATH=f"{BENCH / 'audit'}:{env['PYTHONPATH']}", OLMOSPEC_IMPORT_AUDIT=str(audit),
               HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, str(BENCH / "bench.py"), "--smoke", "--root", str(project), "--out", str(out),
                        "--set", "train_1b.fused_optimizer=true"], env=env, capture_output=True, text=True,
                       timeout=900, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((out / "gpu_bench_smoke.json").read_text())
    assert res["mode"] == "smoke" and res["versions"]["torch"] and res["peak"]["flops"] > 0

    one = res["train_1b"]
    assert one["exit"] == 0 and "error" not in one and one["flops"]["agree"]
    assert one["steady"]["steps_timed"] == 2 and one["steady"]["tokens_per_s"] > 0
    assert one["steady"]["mfu_vs_measured_peak"] > 0 and one["steady"]["mfu_vs_datasheet"] is None  # no GPU
    ran = one["runner_metrics"]
    assert ran["flops_per_token"] == one["flops"]["flops_per_token"] and ran["steps"] == 3
    assert ran["runtime"]["fused_optimizer"] is True  # --set reached the runner through its runtime file
    assert ran["runtime"]["micro_batches_per_step"] == 2 and ran["runtime"]["compiled_layers"] == 0

    block = res["block_7b"]  # stopped by the benchmark once steady, as on the GPU
    assert block["stopped"] == "enough steps" and block["exit"] is None and block["steps_logged"] >= 3
    assert block["steady"]["steps_timed"] >= 2 and block["runtime_file"]["activation_checkpointing"] is True
    assert block["vs_olmo_core"]["olmo_core_7b_tokens_per_s"] == 7700

    gen = res["generation"]
    assert gen["device"] == "cpu" and gen["batch_1"]["completions"] == 1 and gen["batch_64"]["completions"] == 64
    assert gen["batch_64"]["new_tokens"] > 0 and gen["batch_64"]["tokens_per_s"] > 0
    ev = res["eval"]
    assert ev["exit"] == 0 and ev["device"] == "cpu" and ev["backend"] == "hf" and ev["tasks"]["mc"]["n"] == 16
    assert "train_1b" in r.stdout and "generate batch 64" in r.stdout

    stages = pipeline.load(project / "benchmarks/gpu/build/smoke-pipeline")
    rt = json.loads((project / pipeline.find(stages, "train_1b").runtime_file).read_text())
    assert rt["fused_optimizer"] is False  # the override lasted for that run only
    # every package the device-side processes imported is in the GPU image or carried as a wheel
    assert wheels.unmet(audit, project) == {}
