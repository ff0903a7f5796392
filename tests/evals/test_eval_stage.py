"""The eval stage (`python -m runners.eval`) on a tiny HF export: malformed task files fail before any
model is loaded; lm-eval run directly on the task files the stage wrote gives the stage's numbers;
batch size 1 and 8 give the same scores; the seed reaches sampled generation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVALS = ROOT / "specs/data/tiny/evals"


def _env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false"}


def _config(tmp: Path, model: Path, tasks: list[dict], *, name: str, batch: int = 8, seed: int = 0) -> Path:
    out = tmp / name
    cfg = {"eval": "chat", "stage": "sft", "model": str(model), "output": str(out), "stage_id": f"eval-{name}",
           "seed": seed, "batch": batch, "contamination": "off", "tasks": tasks}
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(cfg))
    (tmp / f"{name}.runtime.json").write_text(json.dumps({"device": "cpu", "threads": 1}))
    return path


def _task(name, type_, path, metric, **kw):
    return {"name": name, "type": type_, "path": str(path), "metric": metric, "lm_eval": None, "dataset": None,
            "limit": None, **kw}


def _run(config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runners.eval", "--config", str(config)], cwd=ROOT, env=_env(),
                          capture_output=True, text=True, check=False)


BAD = [
    ('{"id": "m1", "question": "What is 1 + 1?", "answer": "2"}\n{"id": "m2", "question": "What is 2 + 2?"}\n',
     "generate", ":2: generate item 'm2' needs an 'answer'"),
    ('{"id": "m1", "question": "q", "answer": "2"}\n{"id": "m1", "question": "q2", "answer": "3"}\n',
     "generate", ":2: id 'm1' already used on line 1"),
    ('{"id": "c1", "question": "q", "choices": ["a", "b"], "label": 2}\n', "multiple_choice",
     ":1: multiple_choice item 'c1' needs 'label': an integer index into its 2 choices, got 2"),
    ('{"id": "i1", "prompt": "p", "constraints": [{"type": "shout"}]}\n', "ifeval",
     ":1: ifeval item 'i1' constraint 0: unknown type 'shout'"),
    ('{"id": "i1", "prompt": "p", "constraints": [{"type": "lowercase"}]}\n{"id": "i2", "prompt": \n', "ifeval",
     ":2: not valid JSON"),
]


@pytest.mark.parametrize(("text", "type_", "message"), BAD)
def test_a_malformed_item_is_one_error_naming_file_and_line_before_any_model_load(tmp_path, text, type_, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(text)
    good = _task("math", "generate", EVALS / "math.jsonl", "exact_match")
    # the model folder does not exist: the error must come from the task file, before lm-eval starts
    cfg = _config(tmp_path, tmp_path / "no-model", [good, _task("bad", type_, bad, "acc")], name="bad")
    r = _run(cfg)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: eval eval-bad: ") and f"{bad}{message}" in lines[0], r.stderr
    assert not (tmp_path / "bad" / "metrics.json").exists()


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory) -> Path:
    from tiny_export import export_tiny_model

    return export_tiny_model(tmp_path_factory.mktemp("export") / "hf", chat=True)


def _metrics(tmp: Path, name: str) -> dict:
    return json.loads((tmp / name / "metrics.json").read_text())


def _samples(tmp: Path, name: str, task: str) -> list[str]:
    rows = [json.loads(x) for x in (tmp / name / "samples" / f"{task}.jsonl").read_text().splitlines()]
    return [r["resps"][0][0] for r in rows]


LIMITED = [
    _task("math", "generate", EVALS / "math.jsonl", "exact_match", limit=16, max_response=24),
    _task("mc", "multiple_choice", EVALS / "mc.jsonl", "acc", limit=16),
    _task("ifeval", "ifeval", EVALS / "ifeval.jsonl", "prompt_level_strict_acc", limit=8, max_response=32),
]
# the same math items sampled at temperature 1 (its own task, so greedy tasks stay comparable)
SAMPLED = _task("math_t1", "generate", EVALS / "math.jsonl", "exact_match", limit=8, max_response=16,
                temperature=1.0)


@pytest.mark.slow
def test_direct_lm_eval_gives_the_stage_numbers_batch_size_does_not_change_them_and_the_seed_reaches_sampling(
        tmp_path, chat_model):
    humaneval = {"name": "humaneval", "type": "generate", "path": None, "metric": "pass_at_1", "lm_eval": "humaneval",
                 "dataset": None, "limit": 2, "max_response": 8}
    r8 = _run(_config(tmp_path, chat_model, [*LIMITED, SAMPLED, humaneval], name="b8", batch=8))
    assert r8.returncode == 0, r8.stderr[-3000:]
    r1 = _run(_config(tmp_path, chat_model, LIMITED, name="b1", batch=1))
    assert r1.returncode == 0, r1.stderr[-3000:]
    m8, m1 = _metrics(tmp_path, "b8")["tasks"], _metrics(tmp_path, "b1")["tasks"]
    for task, metrics in m1.items():
        for key, value in metrics.items():
            if isinstance(value, float):
                # log-likelihoods: float32 rounding of padded shapes (~1e-7 nats); scores exactly
                tol = 1e-5 if "logprob" in key else 1e-9
                assert m8[task][key] == pytest.approx(value, abs=tol), (task, key)
    for task in ("math", "ifeval"):
        assert _samples(tmp_path, "b8", task) == _samples(tmp_path, "b1", task)
    receipt = json.loads((tmp_path / "b8/receipt.json").read_text())
    assert receipt["throughput"]["lm_eval_seconds"] > 0 and "seconds" not in _metrics(tmp_path, "b8")
    import torch

    assert receipt["cpu"].endswith(", " + torch.backends.cpu.get_cpu_capability())  # the kernels torch picked
    assert m8["humaneval"]["n"] == 2 and m8["humaneval"]["pass_at_1"] == 0.0  # random weights write no code
    scores8 = json.loads((tmp_path / "b8/scores.json").read_text())
    assert scores8["math"]["ids"][:2] == ["math-0000", "math-0001"] and len(scores8["math"]["exact_match"]) == 16

    # lm-eval's own command line on the task files the stage wrote, from the project root, same seed
    direct = tmp_path / "direct"
    cmd = [str(Path(sys.executable).with_name("lm-eval")), "run", "--model", "hf", "--model_args",
           f"pretrained={chat_model},dtype=float32", "--device", "cpu", "--include_path", str(tmp_path / "b8/tasks"),
           "--tasks", "math,mc,ifeval,math_t1", "--batch_size", "8", "--seed", "0,0,0,0", "--apply_chat_template",
           "--output_path", str(direct), "--log_samples"]
    r = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    results = json.loads(next(direct.rglob("results_*.json")).read_text())["results"]
    assert results["math"]["exact_match,none"] == pytest.approx(m8["math"]["exact_match"], abs=1e-12)
    assert results["mc"]["acc,none"] == pytest.approx(m8["mc"]["acc"], abs=1e-12)
    assert results["mc"]["acc_norm,none"] == pytest.approx(m8["mc"]["acc_norm"], abs=1e-12)
    assert results["ifeval"]["prompt_level_strict_acc,none"] == pytest.approx(
        m8["ifeval"]["prompt_level_strict_acc"], abs=1e-12)
    # same seed: the sampled completions are identical; another seed: they differ
    logged = [json.loads(x) for x in next(direct.rglob("samples_math_t1_*.jsonl")).read_text().splitlines()]
    same_seed = [row["resps"][0][0] for row in sorted(logged, key=lambda row: row["doc_id"])]
    assert same_seed == _samples(tmp_path, "b8", "math_t1")
    r2 = _run(_config(tmp_path, chat_model, [*LIMITED, SAMPLED], name="seed1", seed=1))
    assert r2.returncode == 0, r2.stderr[-3000:]
    other = _samples(tmp_path, "seed1", "math_t1")
    assert sum(x != y for x, y in zip(same_seed, other, strict=True)) >= 6  # nearly every sample differs
    assert _samples(tmp_path, "seed1", "math") == _samples(tmp_path, "b8", "math")  # greedy: seed-free


def test_a_ruler_length_beyond_the_models_context_is_a_clear_error(tmp_path):
    from tiny_export import export_tiny_model

    model = export_tiny_model(tmp_path / "hf", max_positions=256)
    cfg = _config(tmp_path, model, [], name="ruler")
    data = json.loads(cfg.read_text())
    data["ruler"] = {"lengths": [512], "tasks": ["niah_single_1"], "samples": 2, "haystack": None}
    cfg.write_text(json.dumps(data))
    r = _run(cfg)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "RULER length 512 exceeds the context of" in r.stderr and "(256 tokens" in r.stderr
