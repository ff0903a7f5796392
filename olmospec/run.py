"""`olmospec run SPEC`: compile, then `dvc repro` the stages whose runners exist.

Stage kinds without a runner yet are listed, never faked: their stages and everything downstream of
them are left out of the repro, and the command says so. Stages run under this command's own
interpreter (`OLMOSPEC_PYTHON`, read by the `stages/python` launcher). `--dry` writes nothing and
initializes nothing: it says what would run, and (when the compiled pipeline on disk is current and
the DVC repository exists) what `dvc status` reports out of date. While `dvc repro` runs, its output
goes through olmospec/progress.py (a line per stage with the estimate for the rest, the runners'
output indented, DVC's routine notices hidden, a summary at the end; `--quiet` for stage lines only).
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
    from olmospec.variant_names import select_variants

    nodes = g.nodes
    chosen = {i for v in select_variants(list(g.variants), variant) for i in g.variants[v]} if variant else set(nodes)
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
    from olmospec.compile import render, stale, write
    from olmospec.errors import print_warnings
    from olmospec.errors import report as _report
    from olmospec.project import find_root, overlaps, spec_of
    from olmospec.variant_names import check_variant

    root = Path(args.root) if args.root else find_root()
    sources: dict[str, str] = {}
    try:
        exp = load_spec(args.spec, sources)
        compiled = render(exp, root, args.out)
        if args.variant:
            check_variant(list(compiled.graph.variants), args.variant)
        chosen = select(compiled.graph, args.stage, args.variant)
    except (SpecError, SpecErrors) as e:
        return _report(e, sources)
    print_warnings(list(exp.warnings), sources)
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
    # DVC reproduces a target's upstream stages too, so naming the stages nothing else here depends on
    # runs the same set, and the whole pipeline is its dvc.yaml; DVC collects its graph once per
    # target (~2 s each: a no-op run of the tiny spec took 3m42s when all 111 stages were named)
    feeding = {u for n in runnable for u in n.upstream}
    leaves = [n for n in runnable if n.id not in feeding]
    if len(runnable) == len(g.nodes):
        targets = [compiled.dvc_file] + [compiled.target(n.id) for n in leaves if n.id in compiled.elsewhere]
    else:
        targets = [compiled.target(n.id) for n in leaves]
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1", "OLMOSPEC_PYTHON": sys.executable}
    if args.dry:
        return _dry(compiled, stale(compiled, root), targets, root, env)
    write(compiled, root)
    clash = overlaps(root)
    if clash:
        name, files = min(clash.items())
        fix = [f for f in files if f != compiled.dvc_file] or files[1:]
        specs = " ".join(spec_of(root, f) or f for f in fix)
        print(f"error: {len(clash)} stage(s) such as {name} are defined by {' and '.join(files)}, and DVC allows "
              f"one definition per output: recompile the other pipeline so it reuses this one's stages "
              f"(`olmospec compile {specs}`)", file=sys.stderr)
        return 1
    ensure_dvc_repo(root)
    return _repro(compiled, runnable, targets, root, env, args.quiet)


def _repro(compiled, runnable: list, targets: list[str], root: Path, env: dict, quiet: bool) -> int:
    from olmospec.codedeps import runner_files
    from olmospec.estimate import Estimator, duration, expected_to_run, read_receipts
    from olmospec.progress import View, repro

    g = compiled.graph
    ids = [n.id for n in runnable]
    code = {k: runner_files(root, k) or [] for k in {n.kind for n in runnable}}
    expected = expected_to_run(root, runnable, code)
    est = Estimator(g.nodes, read_receipts(root, g.nodes))
    secs, unknown = est.remaining([i for i in ids if i in expected])
    when = (f", about {duration(secs)}" if secs else "") + (f" ({unknown} not estimated yet)" if unknown else "")
    print(f"dvc repro: {len(runnable)} stage(s), {len(expected)} expected to run{when}", flush=True)
    view = View(g.nodes, ids, est, expected, quiet=quiet, tty=sys.stdout.isatty() and not quiet, root=root,
                variants=len(g.variants))
    return repro(_dvc() + ["repro", *targets], root, env, view)


def _dry(compiled, stale_files: list[str], targets: list[str], root: Path, env: dict) -> int:
    print(f"would run `dvc repro` on {len(targets)} stage(s):")
    for t in targets:
        print(f"  {t}")
    if stale_files:
        print(f"would first write {len(stale_files)} file(s) of the compiled pipeline ({compiled.dvc_file} "
              f"and its stage configs); their stages' DVC status is known once they are written")
        return 0
    if not (root / ".dvc").is_dir():
        print("no DVC repository yet: `olmospec run` would create one (`dvc init`)")
        return 0
    # NOTE: `dvc repro --dry` fails on a stage whose upstream outputs do not exist yet; `dvc status`
    # says what is out of date without needing them, and changes no file of the project.
    print("out of date now (dvc status):")
    return subprocess.call(_dvc() + ["status", *targets], cwd=root, env=env)
