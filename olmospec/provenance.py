"""The provenance footer of a result table: what produced every number in it.

Read from what the pipeline left on disk, never from memory: the git commit (and whether tracked
code has uncommitted edits), the spec file's hash, the ids of the stages in the table, the output
hashes DVC recorded for them in `dvc.lock`, the hashes of the data manifests, and the library
versions and hosts from the stages' receipts. Everything is sorted, so the same outputs always give
the same footer.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any


def _git(root: Path, *args: str) -> str:
    try:
        r = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10, check=False)
        return r.stdout.strip() if r.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _lock_entries(root: Path) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for lock in [root / "dvc.lock", *sorted((root / "pipelines").glob("*/dvc.lock"))]:
        try:
            stages = (yaml.safe_load(lock.read_text(encoding="utf-8")) or {}).get("stages", {})
        except (OSError, yaml.YAMLError):
            continue
        out.update(stages)
    return out


def _out_hashes(entry: dict[str, Any]) -> dict[str, str]:
    return {o["path"]: o.get("md5") or o.get("hash") or "" for o in entry.get("outs", []) if "path" in o}


def provenance(cfg: dict[str, Any], root: Path) -> dict[str, Any]:
    ids = sorted({e["id"] for r in cfg["rows"] for e in [*r["evals"], *r.get("stages", [])]})
    lock = _lock_entries(root)
    spec = cfg.get("spec")
    spec_hash = ""
    if spec and (root / spec).exists():
        spec_hash = hashlib.sha256((root / spec).read_bytes()).hexdigest()[:16]
    commit = _git(root, "rev-parse", "HEAD")
    dirty = bool(_git(root, "status", "--porcelain", "--", "olmospec", "runners", "evals", "specs"))
    libraries: dict[str, set[str]] = {}
    hosts: set[str] = set()
    devices: set[str] = set()
    for r in cfg["rows"]:
        for e in r["evals"]:
            rec = _json(root / e["dir"] / "receipt.json")
            met = _json(root / e["dir"] / "metrics.json")
            if rec:
                hosts.add(rec.get("host", "") + (f" ({rec['cpu']})" if rec.get("cpu") else ""))
                for lib, ver in rec.get("libraries", {}).items():
                    libraries.setdefault(lib, set()).add(ver)
            if met and met.get("backend"):
                devices.add(f"{met['backend']} on {met.get('device')}, batch {met.get('batch')}")
    manifests = {k: _out_hashes(v) for k, v in sorted(lock.items()) if k.startswith("manifest-")}
    return {
        "git_commit": (commit[:12] + ("-dirty" if dirty else "")) if commit else "unknown",
        "spec": spec, "spec_sha256": spec_hash,
        "stages": ids,
        "dvc_lock": {i: _out_hashes(lock[i]) for i in ids if i in lock},
        "data_manifests": {k: _manifest_hash(v) for k, v in manifests.items()},
        "libraries": {k: sorted(v) for k, v in sorted(libraries.items())},
        "hardware": sorted(h for h in hosts if h), "backends": sorted(devices),
    }


def _manifest_hash(outs: dict[str, str]) -> str:
    """The hash of a manifest stage's manifest.json: what the data was. Its receipt times the run, so
    a hash chosen among all the stage's outputs changed from one run of the same data to the next."""
    for path, md5 in sorted(outs.items()):
        if path.endswith("/manifest.json"):
            return md5[:12]
    return ""


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
