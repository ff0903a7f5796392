"""`olmospec report SPEC [--format md|latex|html|csv] [--out DIR]`: the report blocks' tables from the
outputs on disk, with cells marked stale where `dvc status` says an input changed since they ran.

The spec is compiled in memory (nothing is written but the report files), so the command works on
a pipeline that has run partly: a cell whose eval has not run is "n/a". A cell is stale when its
eval stage, or any stage upstream of it, is out of date for DVC.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from olmospec.errors import SpecError, SpecErrors
from olmospec.errors import report as _report

_FORMAT = {"md": "markdown", "markdown": "markdown", "tex": "latex", "latex": "latex", "html": "html", "csv": "csv"}


def dvc_changed(root: Path, dvc_file: str) -> set[str] | None:
    """Stage names `dvc status` reports as out of date (None when DVC cannot tell: no repo)."""
    from olmospec.run import _dvc

    if not (root / ".dvc").is_dir() or not (root / dvc_file).exists():
        return None
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    r = subprocess.run([*_dvc(), "status", "--json", dvc_file], cwd=root, capture_output=True, text=True,
                       env=env, check=False)
    if r.returncode != 0:
        print(f"warning: dvc status failed, staleness not checked: {r.stderr.strip()[:200]}", file=sys.stderr)
        return None
    data = json.loads(r.stdout or "{}")
    return {k.rsplit(":", 1)[-1] for k in data}


def stale_ids(graph, changed: set[str]) -> set[str]:
    """Nodes that are out of date themselves or downstream of one that is."""
    out: set[str] = set()
    for node in graph.ordered():
        if node.id in changed or any(u in out for u in node.upstream):
            out.add(node.id)
    return out


def report_command(args) -> int:
    from olmospec.api import load_spec
    from olmospec.compile import render
    from olmospec.project import find_root
    from olmospec.report import write_report

    root = Path(args.root) if args.root else find_root()
    sources: dict[str, str] = {}
    try:
        exp = load_spec(args.spec, sources)
        compiled = render(exp, root)
    except (SpecError, SpecErrors) as e:
        return _report(e, sources)
    nodes = [n for n in compiled.graph.ordered() if n.kind == "report" and (not args.name or n.label == f"report-{args.name}")]
    if not nodes:
        print(f"error: {args.spec} has no report block" + (f" named '{args.name}'" if args.name else ""), file=sys.stderr)
        return 1
    dvc_file = _dvc_file(root, compiled.out_dir, nodes[0].id)
    changed = dvc_changed(root, dvc_file) if dvc_file else None
    stale = stale_ids(compiled.graph, changed) if changed is not None else set()
    formats = [_FORMAT[f] for f in args.format] if args.format else None
    out_dir = Path(args.out) if args.out else root / "reports"
    for node in nodes:
        cfg = {**node.config, "stage_id": node.id}
        try:
            files = write_report(cfg, root, out_dir, list(dict.fromkeys(formats)) if formats else None, stale,
                                 plots=_has_matplotlib())
        except OSError as e:
            print(f"error: cannot write the report to {out_dir}: {e}", file=sys.stderr)
            return 1
        for fmt, path in files.items():
            print(f"{fmt}: {path}")
        if changed is None:
            print("note: staleness not checked (no DVC repository with this pipeline, or dvc status failed)")
    return 0


def _dvc_file(root: Path, out_dir: str, stage_id: str) -> str | None:
    """The dvc.yaml this pipeline was compiled to: its default place, or the root one (`compile --out .`)."""
    for rel in dict.fromkeys(["dvc.yaml" if out_dir == "." else f"{out_dir}/dvc.yaml", "dvc.yaml"]):
        p = root / rel
        if p.exists() and f"\n  {stage_id}:" in p.read_text(encoding="utf-8"):
            return rel
    return None


def _has_matplotlib() -> bool:
    import importlib.util

    if importlib.util.find_spec("matplotlib") is None:
        print("note: matplotlib is not installed (pip install -e '.[eval]'): the report has no plots", file=sys.stderr)
        return False
    return True
