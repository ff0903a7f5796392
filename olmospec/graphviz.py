"""`olmospec graph`: the stage DAG as Mermaid or Graphviz dot, for one variant or all."""

from __future__ import annotations

from olmospec.graph import Graph


def _nodes(g: Graph, variant: str | None):
    """`variant` is a name a user types (olmospec/variant_names.py): `base` selects all its seeds."""
    from olmospec.variant_names import select_variants

    keep = {i for v in select_variants(list(g.variants), variant) for i in g.variants[v]} if variant else set(g.nodes)
    return [n for n in g.ordered() if n.id in keep], keep


def mermaid(g: Graph, variant: str | None = None) -> str:
    nodes, keep = _nodes(g, variant)
    lines = ["flowchart TD"]
    for n in nodes:
        shared = f" ×{len(n.variants)}" if len(n.variants) > 1 else ""
        lines.append(f'  {n.id.replace("-", "_")}["{n.label}<br/><small>{n.kind} {n.id[-8:]}{shared}</small>"]')
    for n in nodes:
        for u in n.upstream:
            if u in keep:
                lines.append(f"  {u.replace('-', '_')} --> {n.id.replace('-', '_')}")
    return "\n".join(lines) + "\n"


def dot(g: Graph, variant: str | None = None) -> str:
    nodes, keep = _nodes(g, variant)
    lines = ["digraph olmospec {", "  rankdir=TB;", "  node [shape=box, fontname=Helvetica];"]
    for n in nodes:
        lines.append(f'  "{n.id}" [label="{n.label}\\n{n.kind} {n.id[-8:]} ({len(n.variants)} variants)"];')
    for n in nodes:
        for u in n.upstream:
            if u in keep:
                lines.append(f'  "{u}" -> "{n.id}";')
    lines.append("}")
    return "\n".join(lines) + "\n"
