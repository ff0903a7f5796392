"""What `dvc.lock` records, and where DVC's cache keeps it: the shared ground of `olmospec publish` and
`olmospec verify`.

A lock entry names a path and its md5; a file's content is the cache file of that md5, a folder's md5
ends in `.dir` and its cache file lists the folder's files as `[{"md5", "relpath"}]` (DVC 3's cache
layout: `<cache>/files/md5/<first 2 hex>/<the other 30>`). Reading the cache directly lets verify
compare against exactly what the lock says, whatever the workspace holds now. DVC itself runs as a
subprocess (`dvc status --json`, `dvc fetch`, `dvc push`): olmospec never imports it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml


class StoreError(Exception):
    """A user-facing problem with the DVC project (no lock, unknown stage, missing object)."""


@dataclass(frozen=True)
class Entry:
    path: str  # relative to the project root (every compiled stage runs there)
    md5: str | None
    size: int = 0  # bytes, as the lock records them
    nfiles: int = 1

    @property
    def is_dir(self) -> bool:
        return bool(self.md5 and self.md5.endswith(".dir"))


@dataclass(frozen=True)
class LockedStage:
    name: str
    lock_file: str
    cmd: str
    deps: tuple[Entry, ...]
    outs: tuple[Entry, ...]

    @property
    def target(self) -> str:
        """How `dvc` names this stage from the project root."""
        if self.lock_file == "dvc.lock":
            return self.name
        return f"{self.lock_file.removesuffix('.lock')}.yaml:{self.name}"


def dvc_exe() -> str:
    """The `dvc` of this interpreter's environment (the one with the project's remote plugins), else PATH's."""
    own = Path(sys.executable).with_name("dvc")
    return str(own) if own.exists() else (shutil.which("dvc") or "dvc")


def dvc(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    # NOTE: DVC wraps its output at the terminal width (80 in a pipe), which would split long URLs
    env = {**os.environ, "COLUMNS": "100000", "DVC_NO_ANALYTICS": "1"}
    r = subprocess.run([dvc_exe(), *args], cwd=root, capture_output=True, text=True, check=False, env=env)
    if check and r.returncode != 0:
        raise StoreError(f"`dvc {' '.join(args)}` failed:\n{(r.stderr or r.stdout).strip()}")
    return r


def lock_files(root: Path) -> list[Path]:
    found = [root / "dvc.lock"] if (root / "dvc.lock").exists() else []
    return found + sorted((root / "pipelines").glob("*/dvc.lock"))


def load_locks(root: Path) -> dict[str, LockedStage]:
    """Every locked stage of the project (the root pipeline and pipelines/*), by stage name."""
    stages: dict[str, LockedStage] = {}
    for lf in lock_files(root):
        rel = lf.relative_to(root).as_posix()
        doc = yaml.safe_load(lf.read_text(encoding="utf-8")) or {}
        for name, st in (doc.get("stages") or {}).items():
            if name in stages:
                continue  # a stage two pipelines share has one identity, hence one output
            entries = {k: tuple(Entry(e["path"], e.get("md5"), e.get("size") or 0, e.get("nfiles") or 1) for e in st.get(k) or []) for k in ("deps", "outs")}
            stages[name] = LockedStage(name, rel, st.get("cmd", ""), entries["deps"], entries["outs"])
    return stages


def find_stage(stages: dict[str, LockedStage], name: str) -> LockedStage:
    """A stage by id, by `dvc.yaml:id`, or by a prefix that only one locked stage has (`pretrain`)."""
    name = name.rsplit(":", 1)[-1]
    if name in stages:
        return stages[name]
    hits = sorted(s for s in stages if s.startswith(name))
    if len(hits) == 1:
        return stages[hits[0]]
    if not stages:
        raise StoreError("no dvc.lock: nothing has run here yet (`olmospec run SPEC`, or `dvc pull` in a clone)")
    if hits:
        raise StoreError(f"'{name}' names {len(hits)} locked stages: {', '.join(hits)}")
    raise StoreError(f"no locked stage '{name}' in {', '.join(sorted({s.lock_file for s in stages.values()}))}")


def cache_dir(root: Path) -> Path:
    out = dvc(root, "cache", "dir").stdout.strip()
    return Path(out) if out else root / ".dvc" / "cache"


def object_path(cache: Path, md5: str) -> Path:
    return cache / "files" / "md5" / md5[:2] / md5[2:]


def files_of(cache: Path, entry: Entry) -> dict[str, Path]:
    """relative path -> cache file, for every file of a locked output ('' for a single file)."""
    if not entry.md5:
        raise StoreError(f"{entry.path}: dvc.lock records no md5 for it")
    top = object_path(cache, entry.md5)
    if not entry.is_dir:
        return {"": top}
    if not top.exists():
        return {"": top}  # the listing itself is missing: reported by missing()
    listing = json.loads(top.read_text(encoding="utf-8"))
    return {e["relpath"]: object_path(cache, e["md5"]) for e in listing}


def missing(cache: Path, entry: Entry) -> list[str]:
    return [rel for rel, p in files_of(cache, entry).items() if not p.exists()]


def materialize(cache: Path, entry: Entry, dest: Path) -> None:
    """Copy a locked output out of the cache to `dest` (a file, or a folder of its files)."""
    for rel, src in files_of(cache, entry).items():
        target = dest / rel if rel else dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)


def producers(stages: dict[str, LockedStage]) -> dict[str, LockedStage]:
    """output path -> the locked stage that writes it."""
    return {o.path: st for st in stages.values() for o in st.outs}
