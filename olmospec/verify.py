"""`olmospec verify STAGE`: rerun one locked stage from its locked inputs and check every output against
`dvc.lock`.

How: the stage's inputs are laid out in a scratch folder exactly as the lock records them: outputs of
upstream stages are copied out of the DVC cache by their locked md5 (fetched from the remote when
missing, so a fresh clone needs no `dvc pull`), and tracked inputs (its config, source data, and the
runner code that its kind's code stage hashed) are copied from the checkout after `dvc status`
confirms they match the lock. The stage's locked command then runs there (with this interpreter,
`OLMOSPEC_PYTHON`), from scratch: no checkpoint of an earlier run is present to resume from. Each
output file is compared with its locked version in the cache by the rules of olmospec/compare.py
(exact, numeric within atol/rtol, statistical within k standard errors); every mismatch is printed
with the file and the size of the difference, and any mismatch makes the exit status 1.

    olmospec verify pretrain-25de76b4 [--atol 1e-5 --rtol 1e-4 --k 3] [--keep]

The scratch folder is made under $TMPDIR (default /tmp): point it at a disk with room for the stage.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from olmospec import code_stage
from olmospec.compare import Finding, Tolerance, compare_file
from olmospec.dvc_store import (
    Entry,
    LockedStage,
    StoreError,
    cache_dir,
    dvc,
    files_of,
    find_stage,
    load_locks,
    materialize,
    missing,
    producers,
)

SKIP_PARTS = ("__pycache__",)


def verify(root: Path, name: str, tol: Tolerance, keep: bool = False) -> int:
    stages = load_locks(root)
    st = find_stage(stages, name)
    cache = cache_dir(root)
    made_by = producers(stages)
    pulled = [d for d in st.deps if d.path in made_by]
    tracked = [d for d in st.deps if d.path not in made_by]
    _fetch(root, cache, st, pulled, made_by)
    _check_tracked(root, st, tracked)
    # the runner's code files are the deps of its code stage (olmospec/code_stage.py): checked the same way
    for code in {made_by[d.path].name: made_by[d.path] for d in pulled if code_stage.runs(made_by[d.path].cmd)}.values():
        _check_tracked(root, code, list(code.deps), rerun=st.name)
        tracked += [d for d in code.deps if d.path not in {t.path for t in tracked}]
    scratch = Path(tempfile.mkdtemp(prefix=f"olmospec-verify-{st.name}-"))
    try:
        for d in pulled:
            materialize(cache, d, scratch / d.path)
        for rel in [d.path for d in tracked] + _support_files(root, st):
            _copy(root / rel, scratch / rel)
        print(f"verify {st.name}: {len(pulled)} input(s) from upstream stages (DVC cache), {len(tracked)} tracked "
              f"input(s); rerunning `{st.cmd}` in {scratch}", flush=True)
        t0 = time.time()
        log = scratch / "verify.log"
        with open(log, "w", encoding="utf-8") as fh:
            rc = subprocess.call(st.cmd, shell=True, cwd=scratch, stdout=fh, stderr=subprocess.STDOUT,
                                 env={**os.environ, "OLMOSPEC_PYTHON": sys.executable})
        secs = time.time() - t0
        if rc != 0:
            tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
            print(f"error: the rerun of {st.name} failed (exit {rc}) after {secs:.1f} s:\n  " + "\n  ".join(tail),
                  file=sys.stderr)
            return 1
        findings = [f for out in st.outs for f in _compare_out(cache, out, scratch, tol)]
        return _print(st, findings, secs, tol)
    finally:
        if keep:
            print(f"scratch folder kept: {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


def _fetch(root: Path, cache: Path, st: LockedStage, pulled: list[Entry], made_by: dict[str, LockedStage]) -> None:
    """Bring every locked object this comparison needs into the cache (inputs and the stage's own outputs)."""
    need = [(d, made_by[d.path]) for d in pulled] + [(o, st) for o in st.outs]
    targets = sorted({s.target for e, s in need if missing(cache, e)})
    if targets:
        r = dvc(root, "fetch", *targets, check=False)
        left = [e.path for e, _ in need if missing(cache, e)]
        if left:
            why = (r.stderr or r.stdout).strip().splitlines()
            raise StoreError(f"{left[0]} (md5 {next(e.md5 for e, _ in need if e.path == left[0])} in {st.lock_file}) "
                             f"is neither in the DVC cache nor on the remote ({len(left)} output(s) missing)"
                             + (f": {why[-1]}" if why else ""))


def _check_tracked(root: Path, st: LockedStage, tracked: list[Entry], rerun: str = "") -> None:
    """Every tracked input of `st` matches dvc.lock (`rerun`: the stage verify reruns, when `st` is its code stage)."""
    r = dvc(root, "status", st.target, "--json")
    try:
        report = json.loads(r.stdout or "{}")
    except json.JSONDecodeError:
        raise StoreError(f"`dvc status {st.target}` answered: {r.stdout.strip()[:200]}") from None
    names = {d.path for d in tracked}
    for item in report.get(st.name, []):
        if isinstance(item, dict):
            for path, state in (item.get("changed deps") or {}).items():
                if path in names:
                    what = f"{rerun} with the runner code that {st.name} hashed" if rerun else st.name
                    raise StoreError(f"{path} is {state} since {st.lock_file} recorded it: verify reruns "
                                     f"{what}, on its locked inputs (`git checkout -- {path}` restores it)")


def _support_files(root: Path, st: LockedStage) -> list[str]:
    """Files the command names that are not dependencies: the stage launcher, the config's runtime file."""
    words = st.cmd.split()
    extra = [w for w in words if "/" in w and (root / w).is_file()]
    extra += [w.removesuffix(".json") + ".runtime.json" for w in words if w.endswith(".json")]
    deps = {d.path for d in st.deps}
    return sorted({w for w in extra if w not in deps and (root / w).is_file()})


def _copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*SKIP_PARTS), dirs_exist_ok=True)
    else:
        shutil.copyfile(src, dest)


def _compare_out(cache: Path, out: Entry, scratch: Path, tol: Tolerance) -> list[Finding]:
    locked = files_of(cache, out)
    new = scratch / out.path
    if out.is_dir:
        rerun = {p.relative_to(new).as_posix(): p for p in new.rglob("*")
                 if p.is_file() and not any(s in p.parts for s in SKIP_PARTS)} if new.is_dir() else {}
    else:
        rerun = {"": new} if new.is_file() else {}
    findings = []
    for rel in sorted(set(locked) | set(rerun)):
        name = f"{out.path}/{rel}" if rel else out.path
        if rel not in rerun or rel not in locked:
            f = Finding(name, "exact")
            f.problems.append("missing from the rerun" if rel in locked else "written by the rerun, not in dvc.lock")
            findings.append(f)
        else:
            findings.append(compare_file(name, locked[rel], rerun[rel], tol))
    return findings


def _print(st: LockedStage, findings: list[Finding], secs: float, tol: Tolerance) -> int:
    bad = [f for f in findings if not f.ok]
    for f in findings:
        print(f"  {'ok' if f.ok else 'MISMATCH':<8}  {f.cls:<7}  {f.file}  ({f.summary() or 'compared'})")
        for p in f.problems:
            print(f"            {p}")
    same = sum(1 for f in findings if f.ok and "identical bytes" in f.counts)
    print(f"verify {st.name}: rerun took {secs:.1f} s; {len(findings)} output file(s) compared ({tol}): "
          f"{same} identical, {len(findings) - same - len(bad)} equal within tolerance or but for volatile fields, "
          f"{len(bad)} mismatch(es)")
    if bad:
        print("note: verify lays out only the inputs dvc.lock records; a stage that also reads files it does not "
              "declare (another stage's metrics, dvc.lock, git) differs for that reason too", file=sys.stderr)
    return 1 if bad else 0
