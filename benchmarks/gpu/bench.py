"""The GPU benchmark: the real training runner, generation backend and eval stage on one GPU, in one
command, with one JSON of results and a short table.

    benchmarks/gpu/run.sh                          # on the GPU machine (installs the carried wheels first)
    python benchmarks/gpu/bench.py --smoke --root DIR --out DIR   # CPU, tiny shapes: the test suite's check

What it runs (README.md here has the budget and what the JSON holds):

1. peak: a large bf16 matrix product, timed, so MFU is stated against what this card delivers as
   well as against its datasheet peak (the planner's table in olmospec.arch);
2. train_1b: the compiled `train_1b` stage of olmo3_1b.ospec, by its own command
   (`python -m runners.train --config ...`), from scratch; steady-state tokens/s, MFU and peak memory
   from the runner's step log; its FLOPs formula checked against the model it builds;
3. block_7b: the 7B decoder block stage, stopped once its steps are steady (the variant with 16
   layers is tried if the 24-layer one fails, e.g. out of memory); against OLMo-core's 7,700 tokens/s;
4. generation: `runners.generate` (HF backend) on train_1b's export, tokens/s at batch 1 and 64;
5. eval: the compiled eval stage (`python -m runners.eval`) on that export, on the GPU.

The pipeline is compiled where olmospec runs (`prepare.py` on a CPU machine; the smoke mode compiles
it itself); the GPU machine only reads it. `--set STAGE.KEY=VALUE` writes a runtime setting (any
field of the training runner's runtime, e.g. `train_1b.micro_batch=1`) into that stage's runtime
file for this run only: the switches of a second, tuned run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import measure
import phases
import pipeline
import report

PHASES = ("peak", "train_1b", "block_7b", "generation", "eval")
FALLBACK_7B = "block_7b_16_layers"


def _parse_sets(items: list[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        key, sep, value = item.partition("=")
        stage, dot, field = key.partition(".")
        if not sep or not dot:
            raise SystemExit(f"--set {item!r}: expected STAGE.KEY=VALUE, e.g. train_1b.micro_batch=1")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(stage, {})[field] = parsed
    return out


def _compile(spec: Path, pipeline_dir: Path, root: Path) -> None:
    import subprocess

    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(root), "compile", str(spec), "--out",
                        os.path.relpath(pipeline_dir, root)], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"olmospec compile {spec} failed:\n{r.stdout}{r.stderr}\n(where olmospec cannot run, as on "
                         "the GPU machine, compile with `python benchmarks/gpu/prepare.py` and carry benchmarks/gpu/build)")


def _env(root: Path) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(root), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OLMOSPEC_PYTHON": sys.executable, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "DVC_NO_ANALYTICS": "1"}


def _versions() -> dict:
    import torch
    import transformers

    out = {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
           "cuda": torch.version.cuda}
    for name in ("lm_eval", "pydantic", "datasets"):
        try:
            from importlib.metadata import version

            out[name] = version(name.replace("_", "-"))
        except Exception:  # noqa: BLE001 - a missing package is reported as missing
            out[name] = None
    return out


def _device():
    import torch

    if torch.cuda.is_available():
        dev = torch.device("cuda", 0)
        props = torch.cuda.get_device_properties(dev)
        return dev, {"name": props.name, "memory_gib": round(props.total_memory / 2**30, 1),
                     "multiprocessors": props.multi_processor_count, "count": torch.cuda.device_count()}
    return torch.device("cpu"), {"name": "cpu", "threads": torch.get_num_threads()}


def _datasheet(name: str) -> tuple[str, float] | None:
    from olmospec.arch import GPU_PEAK_BF16_FLOPS

    hits = [k for k in GPU_PEAK_BF16_FLOPS if k in name]
    return (max(hits, key=len), GPU_PEAK_BF16_FLOPS[max(hits, key=len)]) if hits else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="CPU, tiny shapes (smoke.ospec), no compile")
    ap.add_argument("--root", type=Path, default=Path.cwd(), help="the project root (default: the current folder)")
    ap.add_argument("--pipeline", type=Path, help="the compiled pipeline (default: benchmarks/gpu/build/[smoke-]pipeline)")
    ap.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")), help="where the JSON goes ($OUT)")
    ap.add_argument("--only", default=",".join(PHASES), help=f"comma-separated phases of {', '.join(PHASES)}")
    ap.add_argument("--set", action="append", default=[], metavar="STAGE.KEY=VALUE", help="a runtime setting")
    ap.add_argument("--tag", default="", help="a label for this run in the JSON and the file name")
    ap.add_argument("--budget-s", type=float, help="seconds for the whole run (GPU default 540: the device tool "
                                                   "ends a command at 600)")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    spec = HERE / ("smoke.ospec" if args.smoke else "olmo3_1b.ospec")
    pdir = (args.pipeline or root / "benchmarks/gpu/build" / ("smoke-pipeline" if args.smoke else "pipeline")).resolve()
    if not (pdir / "dvc.yaml").exists() or (args.smoke and not args.pipeline):  # the smoke compiles afresh
        _compile(root / spec.relative_to(HERE.parents[1]), pdir, root)
    only = [p.strip() for p in args.only.split(",") if p.strip()]
    if unknown := sorted(set(only) - set(PHASES)):
        raise SystemExit(f"--only: unknown phase(s) {', '.join(unknown)}; phases: {', '.join(PHASES)}")
    sets = _parse_sets(args.set)
    t_start = time.time()
    device, dev_info = _device()
    results: dict = {"schema": 1, "mode": "smoke" if args.smoke else "gpu", "tag": args.tag,
                     "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                     "command": " ".join(sys.argv), "versions": _versions(), "device": dev_info,
                     "pipeline": os.path.relpath(pdir, root), "phases": only, "overrides": sets, "wall_s": {}}
    sizes = phases.SMOKE if args.smoke else phases.GPU
    ctx = phases.Context(root=root, stages=pipeline.load(pdir), env=_env(root), logs=args.out / "logs",
                         sizes=sizes, peak=None, datasheet=_datasheet(dev_info["name"]),
                         ends_at=time.monotonic() + (args.budget_s or sizes.budget_s))
    results["datasheet_peak"] = {"name": ctx.datasheet[0], "flops": ctx.datasheet[1]} if ctx.datasheet else None
    for phase in only:
        t0 = time.time()
        try:
            if phase == "peak":
                results["peak"] = measure.matmul_peak(device, n=8192 if device.type == "cuda" else 512)
                ctx.peak = results["peak"]["flops"]
            elif phase == "train_1b":
                results["train_1b"] = phases.train(ctx, "train_1b", sets.get("train_1b", {}))
            elif phase == "block_7b":
                results["block_7b"] = phases.train(ctx, "block_7b", sets.get("block_7b", {}),
                                                   stop_rows=sizes.block_rows, fallback=FALLBACK_7B)
            elif phase == "generation":
                results["generation"] = phases.generation(ctx, "train_1b")
            elif phase == "eval":
                results["eval"] = phases.evaluation(ctx, "eval-bench_eval-train_1b")
        except Exception as e:  # noqa: BLE001 - record it and go on with the next phase
            results[phase] = {"error": f"{type(e).__name__}: {e}"[-4000:]}
        results["wall_s"][phase] = round(time.time() - t0, 1)
    results["wall_s"]["total"] = round(time.time() - t_start, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"gpu_bench{'_' + args.tag if args.tag else ''}{'_smoke' if args.smoke else ''}.json"
    (args.out / name).write_text(json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
    print(report.table(results))
    print(f"results: {args.out / name}")
    return 0 if not any(isinstance(v, dict) and v.get("error") for v in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
