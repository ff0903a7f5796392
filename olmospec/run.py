"""`olmospec run SPEC`: compile, then `dvc repro` the stages whose runners exist.

Stage kinds without a runner yet are listed, never faked: their stages and everything downstream of
them are left out of the repro, and the command says so.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from olmospec.errors import SpecError, SpecErrors


def implemented(kind: str) -> bool:
    try:
        return importlib.util.find_spec(f"runners.{kind}") is not None
    except (ImportError, ValueError):
        return False


def _dvc() -> list[str]:
    exe = shutil.which("dvc") or str(Path(sys.executable).with_name("dvc"))
    return [exe]


def ensure_dvc_repo(root: Path) -> None:
    if (root / ".dvc").is_dir():
        return
    scm = (root / ".git").exists() or subprocess.run(
        ["git", "rev-parse", "--show-toplevel"], cwd=root, capture_output=True, check=False).returncode == 0
    cmd = _dvc() + ["init", "-q"] + ([] if scm else ["--no-scm"])
    subprocess.run(cmd, cwd=root, check=True)


def select(g, stages: list[str], variant: str | None):
    from olmospec.errors import did_you_mean

    nodes = g.nodes
    chosen = set(g.variants[variant]) if variant else set(nodes)
    if stages:
        picked = set()
        for s in stages:
            hits = {i for i, n in nodes.items() if s in (i, n.label, n.kind) and i in chosen}
            if not hits:
                labels = {n.label for n in nodes.values()} | set(nodes)
                raise SpecError(_nowhere(), f"unknown stage '{s}'{did_you_mean(s, labels)}")
            picked |= hits
        # a selected stage needs its upstream stages too
        todo = list(picked)
        while todo:
            for u in nodes[todo.pop()].upstream:
                if u not in picked:
                    picked.add(u)
                    todo.append(u)
        chosen = picked
    return chosen


def _nowhere():
    from olmospec.errors import Pos

    return Pos("<command line>", 0, 0)


def run_pipeline(args) -> int:
    from olmospec.api import load_spec
    from olmospec.compile import render, write
    from olmospec.errors import report as _report

    root = Path(args.root)
    sources: dict[str, str] = {}
    try:
        exp = load_spec(args.spec, sources)
        compiled = render(exp, root, args.out)
        if args.variant and args.variant not in compiled.graph.variants:
            from olmospec.errors import did_you_mean

            raise SpecError(_nowhere(), f"unknown variant '{args.variant}'{did_you_mean(args.variant, set(compiled.graph.variants))}")
        chosen = select(compiled.graph, args.stage, args.variant)
    except (SpecError, SpecErrors) as e:
        return _report(e, sources)
    write(compiled, root)
    g = compiled.graph
    missing_kinds = sorted({n.kind for i, n in g.nodes.items() if i in chosen and not implemented(n.kind)})
    blocked: set[str] = set()
    for n in g.ordered():
        if n.id in chosen and (not implemented(n.kind) or any(u in blocked for u in n.upstream)):
            blocked.add(n.id)
    runnable = [n for n in g.ordered() if n.id in chosen and n.id not in blocked]
    if missing_kinds:
        print(f"not implemented yet (left out, with {len(blocked)} stage(s) that need them): "
              f"{', '.join(missing_kinds)}")
    if not runnable:
        print("nothing to run")
        return 0
    prefix = "" if compiled.out_dir == "." else f"{compiled.out_dir}/dvc.yaml:"
    targets = [prefix + n.id for n in runnable]
    # Stage commands say `python`: make it this environment's interpreter.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1", "PATH": path}
    ensure_dvc_repo(root)
    if args.dry:
        # NOTE: `dvc repro --dry` fails on a stage whose upstream outputs do not exist yet; `dvc status`
        # says what is out of date without needing them.
        print(f"would run `dvc repro` on {len(targets)} stage(s); out of date now:")
        return subprocess.call(_dvc() + ["status", *targets], cwd=root, env=env)
    print(f"dvc repro: {len(targets)} stage(s)")
    return subprocess.call(_dvc() + ["repro", *targets], cwd=root, env=env)
