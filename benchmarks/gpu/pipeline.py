"""A compiled pipeline's stages, found by name and run by their own command, without DVC.

The GPU machine has no DVC (and no registry to install it from), so the benchmark runs each stage
the way `dvc repro` would: the `cmd` that `olmospec compile` wrote into dvc.yaml, from the project
root, with `OLMOSPEC_PYTHON` naming the interpreter (the compiled `stages/python` launcher honours
it). Nothing here knows what a stage does; `bench.py` decides what to run and reads the outputs.

    stages = load("benchmarks/gpu/build/pipeline")
    st = find(stages, "train_1b")                    # the base variant's stage of that name
    for up in upstream(stages, st): ...              # stages whose outputs it reads, in order
    r = run(st, root, env, log, deadline_s=300, stop=lambda: rows(...) >= 9)
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stage:
    id: str  # <name>-<hash8>, also the folder under runs/
    kind: str
    cmd: str
    config: str  # the stage config the command reads (root-relative)
    deps: tuple[str, ...]
    outs: tuple[str, ...]
    variants: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.id.rsplit("-", 1)[0]

    @property
    def output(self) -> str:
        return f"runs/{self.id}"

    @property
    def runtime_file(self) -> Path:
        return Path(self.config[: -len(".json")] + ".runtime.json")


def _paths(entries) -> tuple[str, ...]:
    """dvc.yaml lists an out either as a string or as a one-key mapping with its options."""
    return tuple(e if isinstance(e, str) else next(iter(e)) for e in entries or ())


def load(pipeline: str | Path) -> dict[str, Stage]:
    import yaml

    doc = yaml.safe_load((Path(pipeline) / "dvc.yaml").read_text(encoding="utf-8"))
    out = {}
    for sid, st in (doc.get("stages") or {}).items():
        argv = shlex.split(st["cmd"])
        out[sid] = Stage(id=sid, kind=st.get("meta", {}).get("kind", ""), cmd=st["cmd"],
                         config=argv[argv.index("--config") + 1], deps=_paths(st.get("deps")),
                         outs=_paths(st.get("outs")) + _paths(st.get("metrics")),
                         variants=tuple(st.get("meta", {}).get("variants", ())))
    return out


def find(stages: dict[str, Stage], name: str, variant: str = "base") -> Stage:
    hits = [s for s in stages.values() if s.name == name and variant in s.variants]
    if len(hits) != 1:
        known = sorted({s.name for s in stages.values()})
        raise KeyError(f"{len(hits)} stages named {name!r} in variant {variant!r}; stages: {', '.join(known)}")
    return hits[0]


def upstream(stages: dict[str, Stage], stage: Stage) -> list[Stage]:
    """Every stage whose outputs `stage` reads, directly or not, upstream first."""
    producer = {o: s for s in stages.values() for o in s.outs}
    order: list[Stage] = []

    def visit(s: Stage) -> None:
        for dep in s.deps:
            up = producer.get(dep)
            if up is not None and up not in order:
                visit(up)
                order.append(up)

    visit(stage)
    return order


def is_done(stage: Stage, root: Path) -> bool:
    return all((root / o).exists() for o in stage.outs)


@dataclass
class Result:
    rc: int | None  # None: stopped by us (stop condition or deadline) before it ended
    seconds: float
    stopped: str | None  # "enough steps" | "deadline" | None
    log: str  # the last lines of its output


def run(stage: Stage, root: Path, env: dict[str, str], log: Path, *, deadline_s: float,
        stop: Callable[[], bool] | None = None, poll_s: float = 1.0) -> Result:
    """Run the stage's command from `root`; end it (its whole process group) when `stop()` turns
    true or after `deadline_s`. Output goes to `log` (the tail is returned)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    stopped = None
    with log.open("w") as f:
        proc = subprocess.Popen(shlex.split(stage.cmd), cwd=root, env=env, stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
        while proc.poll() is None:
            time.sleep(poll_s)
            if stop is not None and stop():
                stopped = "enough steps"
            elif time.monotonic() - t0 > deadline_s:
                stopped = "deadline"
            if stopped:
                _end(proc)
                break
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-40:])
    return Result(rc=None if stopped else proc.returncode, seconds=time.monotonic() - t0, stopped=stopped, log=tail)


def _end(proc: subprocess.Popen) -> None:
    """SIGTERM the stage's process group, then SIGKILL what is left after 20 s."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def set_runtime(stage: Stage, root: Path, overrides: dict[str, object]) -> tuple[dict, str | None]:
    """Write `overrides` into the stage's runtime file (the runner convention's place for settings
    that are not identity); returns (the runtime now, the file's previous text to restore)."""
    path = root / stage.runtime_file
    before = path.read_text(encoding="utf-8") if path.exists() else None
    rt = json.loads(before) if before else {}
    rt.update(overrides)
    if stage.kind == "train":
        from olmospec.ir.train import TrainRuntime

        rt = TrainRuntime.model_validate(rt).model_dump(mode="json")  # a misspelt setting fails here
    if overrides:
        path.write_text(json.dumps(rt, sort_keys=True, separators=(",", ":")) + "\n", encoding="utf-8")
    return rt, before


def restore_runtime(stage: Stage, root: Path, before: str | None) -> None:
    path = root / stage.runtime_file
    if before is None:
        path.unlink(missing_ok=True)
    else:
        path.write_text(before, encoding="utf-8")
