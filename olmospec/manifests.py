"""Checks that read the disk (`olmospec check`): once a source's `manifest` stage has run, its token
count replaces the declared `tokens = ...` in the repetition-cap check; and a local source whose
path or glob matches no file is a warning (an error under `--strict`)."""

from __future__ import annotations

import glob
import json
from pathlib import Path

from olmospec import ast
from olmospec.checks import check_mix
from olmospec.errors import Diagnostics
from olmospec.graph import Graph
from olmospec.variants import Experiment


def manifest_tokens(g: Graph, root: Path) -> dict[str, int]:
    """Token counts per source from manifests on disk (sources whose manifest has not run are absent)."""
    out: dict[str, int] = {}
    for n in g.nodes.values():
        if n.kind != "manifest":
            continue
        p = root / n.out_dir / "manifest.json"
        if not p.exists():
            continue
        try:
            tokens = json.loads(p.read_text(encoding="utf-8"))["totals"].get("tokens")
        except (ValueError, KeyError, OSError):
            continue
        if isinstance(tokens, int):
            out[n.stage or n.label.removeprefix("manifest-")] = tokens
    return out


def check_with_manifests(exp: Experiment, g: Graph, root: Path) -> Diagnostics:
    diags = Diagnostics()
    sizes = manifest_tokens(g, root)
    if not sizes:
        return diags
    spec = exp.base
    budgets = {st.data: st.tokens for st in spec.stages.values() if st.data in spec.mixes and st.tokens}
    for item in exp.items:
        if isinstance(item, ast.Section) and item.kind == "mix" and item.name in spec.mixes:
            entry_pos = {i.kind: i.pos for i in item.body or () if isinstance(i, ast.Section)}
            check_mix(spec.mixes[item.name], item.pos, entry_pos, budgets.get(item.name), spec.sources,
                      spec.curations, spec.mixes, diags, manifests=sizes)
    return diags


def check_source_files(exp: Experiment) -> Diagnostics:
    """A warning per local source whose path or glob matches no file (remote paths and dataset ids
    are not checked: they are read at run time)."""
    from olmospec.ir.spec import REMOTE_PREFIXES

    diags = Diagnostics()
    spec_dir = Path(exp.file).parent
    where = {i.name: i for i in exp.items if isinstance(i, ast.Section) and i.kind == "source" and i.name}
    for name, src in sorted(exp.base.sources.items()):
        if not src.path or src.path.startswith(REMOTE_PREFIXES):
            continue
        full = Path(src.path) if Path(src.path).is_absolute() else spec_dir / src.path
        if glob.glob(str(full), recursive=True):
            continue
        sec = where.get(name)
        pos = next((a.value.pos for a in (sec.body or ()) if isinstance(a, ast.Assign) and a.key == "path"),
                   sec.pos) if sec else None
        if pos is not None:
            diags.warn(pos, f"source '{name}': '{src.path}' matches no file (relative to {spec_dir or '.'})")
    return diags
