"""Code stages: one small DVC stage per runner kind that hashes the kind's code files, so that the
kind's real stages depend on one file instead of each listing the ~35 files their runner executes.

Why: `dvc repro` checks every dependency of every stage, even when nothing changed. In the tiny
spec's pipeline 2,912 of 3,978 dependencies were code files, the same 14 import closures (one per
runner kind) repeated over 111 stages; checking each closure once, in its kind's code stage, halves
dvc.lock and cuts a third of the time of a `dvc repro` that has nothing to do (2.99 s against 4.80 s
on the finished tiny run, 2 cores). What reruns is unchanged: an edit to
a file that a runner executes changes its code stage's output (a sha256 per file), hence reruns
every stage of that kind and what follows from them, and an edit to any other file reruns nothing.

The stage runs `sh stages/python -m olmospec.code_stage --config stages/code-<kind>.json`; the
config lists the files (derived from the runner's imports, olmospec/codedeps.py) and the output.
This module imports nothing beyond the standard library, so that a code edit's first rerun is quick.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

PREFIX = "code-"  # a graph stage's id ends in its 8-digit hash (pretrain-25de76b4); a code stage's in its kind
MODULE = "olmospec.code_stage"


def name(kind: str) -> str:
    """The DVC stage that hashes runner `kind`'s code."""
    return f"{PREFIX}{kind}"


def output(kind: str) -> str:
    """What the code stage of `kind` writes (relative to the project root); the kind's stages depend on it."""
    return f"runs/{name(kind)}/files.json"


def command(stages_dir: str, cfg_path: str) -> str:
    return f"sh {stages_dir}/python -m {MODULE} --config {cfg_path}"


def runs(cmd: str) -> bool:
    """Whether a stage's command is a code stage's."""
    return f" -m {MODULE} " in cmd


def config(kind: str, files: list[str]) -> dict:
    return {"runner": kind, "files": sorted(files), "output": output(kind)}


def digests(root: Path, files: list[str]) -> dict[str, str]:
    return {rel: hashlib.sha256((root / rel).read_bytes()).hexdigest() for rel in sorted(files)}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--config":
        print("usage: python -m olmospec.code_stage --config stages/code-<kind>.json", file=sys.stderr)
        return 2
    cfg = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    try:
        files = digests(Path("."), cfg["files"])
    except OSError as e:
        print(f"error: {cfg['runner']} runner code: {e.filename}: {e.strerror} (recompile the spec: "
              f"`olmospec compile SPEC` lists the files the runner imports now)", file=sys.stderr)
        return 1
    out = Path(cfg["output"])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps({"runner": cfg["runner"], "files": files}, indent=1, sort_keys=True) + "\n",
                   encoding="utf-8")
    os.replace(tmp, out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
