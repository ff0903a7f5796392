"""`olmospec diff A B`: what changed between two specs, in spec terms, and which stages rerun.

The semantic diff compares the resolved base specs field by field ("stage sft: lr 5e-05 -> 0.0001"),
so comments, formatting and block order never show up; the rerun set is every stage of B whose
identity is not in A (with the reason: its own config changed, or an upstream stage did).
"""

from __future__ import annotations

from typing import Any

from olmospec.graph import Graph
from olmospec.ir import spec as S

_TABLES = ("tokenizers", "sources", "curations", "mixes", "models", "external_models", "stages", "tasks", "evals",
           "reports")


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        out = {}
        for i, v in enumerate(obj):
            key = v.get("name") or v.get("kind") or str(i)
            out.update(_flat(v, f"{prefix}[{key}]"))
        return out
    return {prefix: obj}


def semantic_diff(a: S.Spec, b: S.Spec) -> list[str]:
    lines = []
    for table in _TABLES:
        ta, tb = getattr(a, table), getattr(b, table)
        kind = table.rstrip("s").replace("curation", "curation")
        for name in sorted(set(ta) | set(tb)):
            if name not in tb:
                lines.append(f"- {kind} {name} removed")
            elif name not in ta:
                lines.append(f"+ {kind} {name} added")
            else:
                fa, fb = _flat(ta[name].model_dump(mode="json")), _flat(tb[name].model_dump(mode="json"))
                for k in sorted(set(fa) | set(fb)):
                    if fa.get(k) != fb.get(k):
                        note = "  (runtime: reruns nothing)" if k.startswith("runtime.") else ""
                        lines.append(f"~ {kind} {name}: {k}: {fa.get(k)!r} -> {fb.get(k)!r}{note}")
    for field in ("seeds", "seeds_from"):
        if getattr(a, field) != getattr(b, field):
            lines.append(f"~ {field}: {getattr(a, field)!r} -> {getattr(b, field)!r}")
    return lines


def rerun_set(ga: Graph, gb: Graph) -> list[tuple[str, str]]:
    """(stage id in B, why) for every stage of B that A does not already have."""
    out = []
    new = {i for i in gb.nodes if i not in ga.nodes}
    for n in gb.ordered():
        if n.id not in new:
            continue
        changed_up = [u for u in n.upstream if u in new]
        why = f"upstream {', '.join(changed_up)} reruns" if changed_up else "its configuration changed"
        if not changed_up and not any(x.label == n.label and x.kind == n.kind for x in ga.nodes.values()):
            why = "new stage"
        out.append((n.id, why))
    return out
