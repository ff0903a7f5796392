"""One call of lm-eval's `simple_evaluate` on a stage's HF export, and what the eval stage keeps of it.

Backends: lm-eval's `hf` model on the CPU (float32) and its `vllm` model on GPUs, both reading the
same `runs/<stage>/hf` folder. The four lm-eval seeds are set to the stage's seed; for vLLM the seed
also goes into the engine (`seed=`) and into every request's sampling parameters, because lm-eval's
own seed never reaches vLLM's sampler. The batch size is fixed by the spec (lm-eval's `auto` would
make scores depend on free memory). Bootstrap standard errors are off (`bootstrap_iters=0`): the
report computes intervals over seeds and items itself, from the item scores kept here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Backend:
    name: str  # hf | vllm
    device: str  # cpu | cuda


def choose_backend(backend: str = "auto", device: str = "auto") -> Backend:
    """`auto`: vLLM when a GPU and the vllm package are there, else the HF backend on the CPU."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    if backend == "auto":
        backend = "vllm" if device == "cuda" and importlib.util.find_spec("vllm") else "hf"
    if backend == "vllm" and device != "cuda":
        raise ValueError("the vllm backend needs a GPU (runtime device = cuda)")
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise ValueError("backend = vllm but the vllm package is not installed (pip install -e '.[gpu]')")
    return Backend(backend, device)


def model_args(model_dir: str, backend: Backend, seed: int, gpus: int = 1) -> dict[str, Any]:
    if backend.name == "hf":
        return {"pretrained": model_dir, "dtype": "float32" if backend.device == "cpu" else "bfloat16"}
    return {"pretrained": model_dir, "dtype": "auto", "seed": seed, "tensor_parallel_size": gpus,
            "gpu_memory_utilization": 0.8}


def has_chat_template(model_dir: str) -> bool:
    import json

    d = Path(model_dir)
    if (d / "chat_template.jinja").exists():
        return True
    cfg = d / "tokenizer_config.json"
    return cfg.exists() and bool(json.loads(cfg.read_text(encoding="utf-8")).get("chat_template"))


def evaluate(model_dir: str, task_dir: Path, names: list[str], *, backend: Backend, batch_size: int, seed: int,
             registry: bool = False, gpus: int = 1) -> dict[str, Any]:
    """Run lm-eval on the tasks `names` found in `task_dir` (and lm-eval's own tasks if `registry`)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_path=str(task_dir), include_defaults=registry)
    return lm_eval.simple_evaluate(
        model=backend.name, model_args=model_args(model_dir, backend, seed, gpus), tasks=names,
        task_manager=tm, batch_size=batch_size, device=backend.device, bootstrap_iters=0, log_samples=True,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        apply_chat_template=has_chat_template(model_dir),
        gen_kwargs={"seed": seed} if backend.name == "vllm" else None,
    )


def metric_value(task_results: dict[str, Any], metric: str) -> float | None:
    """`metric` from one task's results (`"acc,none"`, `"exact_match,strict-match"`, ...)."""
    for key, value in task_results.items():
        if (key == metric or key.startswith(metric + ",")) and "_stderr" not in key:
            return float(value) if isinstance(value, int | float) else None
    return None


def item_scores(samples: list[dict[str, Any]], metrics: list[str]) -> dict[str, Any]:
    """Per-item values of each metric, in document order, with the items' ids (the bootstrap's input)."""
    ordered = sorted(samples, key=lambda s: s["doc_id"])
    out: dict[str, Any] = {"ids": [str(s["doc"].get("id", s["doc_id"])) for s in ordered]}
    for m in metrics:
        vals = [s.get(m) for s in ordered]
        if all(isinstance(v, int | float) for v in vals):
            out[m] = [float(v) for v in vals]
    return out
