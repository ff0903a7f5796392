"""The RLVR acceptance experiment: verifiable reward vs the spurious (random) reward, over seeds,
from the same starting stage, scored on held-out math problems.

    python benchmarks/rlvr_acceptance.py --start runs/sft-XXXX --stage stages/rlvr-YYYY.json \\
        [--seeds 1 2 3] [--steps 80] [--parallel 6] [--threads 1]

`--stage` is a compiled RLVR stage config (the tiny spec's, e.g. its `no_dpo` variant, which starts
from sft). For every seed it runs that exact stage twice with `python -m runners.rlvr` (the command
DVC runs), once with its own rewards and once with `rewards = [random]`, both from `--start`, then
measures held-out greedy accuracy of the start and of every result (benchmarks/rlvr_heldout.py, the
math verifier as scorer) and prints per seed: start, RLVR, random, RLVR - start, RLVR - random; and
what active sampling did (dropped-group fraction, refills per step, share of full batches).
Results go to runs/rlvr-acceptance/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
OUT = ROOT / "runs" / "rlvr-acceptance"


def _config(stage: dict, start: str, seed: int, arm: str, threads: int, steps: int | None) -> Path:
    cfg = {**stage, "init_from": start, "seed": seed, "stage_id": f"{arm}-s{seed}", "output": str(OUT / f"{arm}-s{seed}")}
    if steps is not None:
        cfg["steps"] = steps
    if arm == "random":
        cfg["rewards"] = ["random"]
    path = OUT / "configs" / f"{arm}-s{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cfg))
    rt = path.with_name(path.name[: -len(".json")] + ".runtime.json")
    rt.write_text(json.dumps({"device": "cpu", "threads": threads, "checkpoint_every": 20, "log_every": 10}))
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", required=True, help="the stage RL starts from (a folder with hf/)")
    ap.add_argument("--stage", required=True, help="a compiled rlvr stage config")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--steps", type=int, help="RL steps (default: the stage's own)")
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    stage = json.loads(Path(args.stage).read_text())
    jobs = [_config(stage, args.start, s, arm, args.threads, args.steps) for s in args.seeds for arm in ("rlvr", "random")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    running: list[tuple[subprocess.Popen, Path, float]] = []
    walls: dict[str, float] = {}
    pending = [j for j in jobs if not (OUT / j.stem / "metrics.json").exists()]
    while pending or running:
        while pending and len(running) < args.parallel:
            j = pending.pop(0)
            log = (OUT / f"{j.stem}.log").open("w")
            running.append((subprocess.Popen([sys.executable, "-m", "runners.rlvr", "--config", str(j)], cwd=ROOT,
                                             env=env, stdout=log, stderr=subprocess.STDOUT), j, time.time()))
        for p, j, t in list(running):
            if p.poll() is not None:
                running.remove((p, j, t))
                walls[j.stem] = time.time() - t
                if p.returncode:
                    print(f"{j.stem} failed (exit {p.returncode}); see {OUT / (j.stem + '.log')}", flush=True)
        time.sleep(2)
    from rlvr_heldout import heldout_accuracy

    evals = ROOT / "specs/data/tiny/evals/math.jsonl"
    start = heldout_accuracy(args.start, evals)["accuracy"]
    rows = []
    for s in args.seeds:
        acc = {arm: heldout_accuracy(str(OUT / f"{arm}-s{s}"), evals)["accuracy"] for arm in ("rlvr", "random")}
        m = json.loads((OUT / f"rlvr-s{s}" / "metrics.json").read_text())
        m |= json.loads((OUT / f"rlvr-s{s}" / "receipt.json").read_text())["throughput"]  # timings
        rows.append({"seed": s, "start": start, **acc, "rlvr_minus_start": acc["rlvr"] - start,
                     "rlvr_minus_random": acc["rlvr"] - acc["random"],
                     "dropped_group_frac": m["dropped_group_frac"], "refills_per_step": m["refills_per_step"],
                     "full_batch_frac": m["full_batch_frac"], "gen_seconds": m["gen_seconds"],
                     "learn_seconds": m["learn_seconds"], "wall_s": walls.get(f"rlvr-s{s}")})
        print(json.dumps(rows[-1]), flush=True)
    (OUT / "results.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
