"""Mix checks against real source sizes: once a source's `manifest` stage has run, its token count
replaces the declared `tokens = ...` in the repetition-cap check (`olmospec check`/`compile`)."""

from __future__ import annotations

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
