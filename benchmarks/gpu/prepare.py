"""Build what the GPU machine needs for `run.sh`, on a machine where olmospec runs (no GPU needed).

    python benchmarks/gpu/prepare.py          # writes benchmarks/gpu/build/ (git-ignored), prints its size

It writes, under `benchmarks/gpu/build/`:

- `pipeline/`: olmo3_1b.ospec compiled (`olmospec compile --out benchmarks/gpu/build/pipeline`):
  dvc.yaml and the stage configs the GPU machine reads (it has no lark or pydantic to compile);
- `runs/`: the outputs of the stages the training stages read (the tokenizer trained on the tiny web
  corpus, its manifest, the token shards), made by their own compiled commands;
- `wheels/`: the cp312 wheels of `wheels.CARRY` (pydantic, lm-eval, datasets, ...).

The device tool copies the working tree plus what `carry` names, at most 64 MiB in all: the script
prints the size of the tracked tree and of `build/`, and fails if together they pass that.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench
import phases
import pipeline
import wheels

LIMIT = 64 * 2**20  # what the device tool carries: working tree plus carried paths
TRAIN_STAGES = (("train_1b", "base"), ("block_7b", "base"), ("block_7b", bench.FALLBACK_7B))


def size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else 0


def tracked_size(root: Path) -> int:
    """Bytes of the files git would send: tracked plus untracked-but-not-ignored."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                         capture_output=True, check=True).stdout.decode().split("\0")
    return sum((root / f).stat().st_size for f in out if f and (root / f).is_file())


def main() -> int:
    root = HERE.parents[1]
    build = HERE / "build"
    pdir = build / "pipeline"
    shutil.rmtree(pdir, ignore_errors=True)
    bench._compile(root / "benchmarks/gpu/olmo3_1b.ospec", pdir, root)
    stages = pipeline.load(pdir)
    ctx = phases.Context(root=root, stages=stages, env=bench._env(root), logs=build / "logs", sizes=phases.GPU,
                         peak=None, datasheet=None)
    shutil.rmtree(build / "runs", ignore_errors=True)
    needed: dict[str, pipeline.Stage] = {}
    for name, variant in TRAIN_STAGES:
        st = pipeline.find(stages, name, variant)
        ran = phases.ensure_inputs(ctx, st)
        for up in pipeline.upstream(stages, st):
            needed[up.id] = up
        print(f"{st.id}: inputs ready" + (f" (ran {', '.join(ran)})" if ran else ""))
    for up in needed.values():
        shutil.copytree(root / up.output, build / "runs" / up.id)
    files = wheels.download(build / "wheels")
    print(f"wheels: {len(files)} files, {size(build / 'wheels') / 2**20:.1f} MiB")
    shutil.rmtree(build / "logs", ignore_errors=True)
    tree, carried = tracked_size(root), size(build)
    print(f"working tree {tree / 2**20:.1f} MiB + benchmarks/gpu/build {carried / 2**20:.1f} MiB "
          f"= {(tree + carried) / 2**20:.1f} MiB (the device tool carries at most {LIMIT / 2**20:.0f} MiB)")
    print("on the GPU machine: benchmarks/gpu/run.sh   (carry: benchmarks/gpu/build)")
    return 0 if tree + carried <= LIMIT else 1


if __name__ == "__main__":
    sys.exit(main())
