"""`olmospec diff A B`: what changed between two specs, in spec terms, and what it costs.

The whole experiment is compared: the base spec field by field (resolved, so comments, formatting
and block order never show up; values in spec units: `76.1% -> 70%`, `5.93T`, `2000 steps`; a
runtime setting is marked "runtime only, reruns nothing"), and every ablation and sweep (added,
removed or changed) and the seeds, with the variants each adds or removes. Every stage of B that A
does not have is listed under the first of these that needs it, with why it runs (its own config
changed, with the fields that did; or an upstream stage reruns; or it is new) and the marginal
GPU-hours and dollars of each added or changed variant.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from olmospec import ast
from olmospec.graph import Graph, Node
from olmospec.ir import spec as S
from olmospec.plan import groups, totals
from olmospec.show import show
from olmospec.variant_names import select_variants, split

_TABLES = {"tokenizers": "tokenizer", "sources": "source", "curations": "curation", "mixes": "mix", "models": "model",
           "model_tokenizers": "model tokenizer", "external_models": "external model", "stages": "stage",
           "tasks": "task", "evals": "eval", "reports": "report"}
RUNTIME_ONLY = "runtime only, reruns nothing"


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


def _changes(fa: dict, fb: dict, skip=lambda k, a, b: False) -> list[tuple[str, str, str]]:
    return [(k, show(k, fa.get(k)), show(k, fb.get(k))) for k in sorted(set(fa) | set(fb))
            if fa.get(k) != fb.get(k) and not skip(k, fa.get(k), fb.get(k))]


def semantic_diff(a: S.Spec, b: S.Spec) -> list[str]:
    lines = []
    for table, kind in _TABLES.items():
        ta, tb = getattr(a, table), getattr(b, table)
        for name in sorted(set(ta) | set(tb)):
            if name not in tb:
                lines.append(f"- {kind} {name} removed")
            elif name not in ta:
                lines.append(f"+ {kind} {name} added")
            elif table == "model_tokenizers":
                if ta[name] != tb[name]:
                    lines.append(f"~ model {name}: tokenizer: {ta[name]} -> {tb[name]}")
            else:
                fa, fb = _flat(ta[name].model_dump(mode="json")), _flat(tb[name].model_dump(mode="json"))
                for k, va, vb in _changes(fa, fb):
                    note = f"  ({RUNTIME_ONLY})" if k.startswith("runtime.") else ""
                    lines.append(f"~ {kind} {name}: {k}: {va} -> {vb}{note}")
    for k, va, vb in _changes(_flat(a.runtime.model_dump(mode="json")), _flat(b.runtime.model_dump(mode="json"))):
        lines.append(f"~ runtime: {k}: {va} -> {vb}  ({RUNTIME_ONLY})")
    return lines


# -- ablations, sweeps, seeds ------------------------------------------------------------------------
def _canon(x: Any) -> Any:
    """A syntax tree without positions, so that moving or reformatting an ablation is no change."""
    if is_dataclass(x):
        return (type(x).__name__,) + tuple(_canon(getattr(x, f.name)) for f in fields(x) if f.name not in ("pos", "end_pos"))
    if isinstance(x, tuple):
        return tuple(_canon(i) for i in x)
    return x


def _variant_blocks(exp) -> dict[str, ast.Section]:
    return {i.name: i for i in exp.items if isinstance(i, ast.Section) and i.kind in ("ablation", "sweep") and i.name}


def _describe(sec: ast.Section) -> str:
    from olmospec.variants import value_text

    ops = []
    for op in sec.body or ():
        if isinstance(op, ast.Assign):
            ops.append(f"{op.key} = {value_text(op.value)}")
        elif op.kind in ("drop", "replace"):
            ops.append(f"{op.kind} {op.name}")
    return ", ".join(ops)


# -- why each stage runs ---------------------------------------------------------------------------
def _counterpart(n: Node, ga: Graph) -> Node | None:
    same = [x for x in ga.nodes.values() if x.label == n.label and x.kind == n.kind]
    for v in n.variants:
        hit = next((x for x in same if v in x.variants), None)
        if hit:
            return hit
    groups = {split(v)[1] for v in n.variants}  # another seed of the same variant (a seed was added)
    hit = next((x for x in same if any(split(v)[1] in groups for v in x.variants)), None)
    if hit:
        return hit
    seeds = {split(v)[2] for v in n.variants}
    base = next((x for x in same if any(split(v)[0] == "base" and split(v)[2] in seeds for v in x.variants)), None)
    return base or (same[0] if same else None)


def why(n: Node, ga: Graph, new: set[str]) -> str:
    other = _counterpart(n, ga)
    if other is None:
        return "new stage"
    upstream_path = lambda k, a, b: isinstance(a, str) and isinstance(b, str) and a.startswith("runs/") \
        and b.startswith("runs/")
    diffs = _changes(_flat(other.config), _flat(n.config), upstream_path)
    if diffs:
        shown = "; ".join(f"{k}: {a} -> {b}" for k, a, b in diffs[:3]) + ("; ..." if len(diffs) > 3 else "")
        return f"config: {shown}"
    ups = [u for u in n.upstream if u in new]
    return f"upstream {', '.join(ups[:2])}{', ...' if len(ups) > 2 else ''} reruns" if ups else "config changed"


def _seeds_text(spec: S.Spec) -> str:
    """`[1, 2, 3]` or `[1, 2, 3] for [base, no_dpo]`, as the spec writes it."""
    text = show("seeds", spec.seeds)
    return text if spec.seeds_for is None else f"{text} for [{', '.join(spec.seeds_for)}]"


def experiment_diff(ea, ga: Graph, eb, gb: Graph, price: float | None = None) -> dict:
    new = {i for i in gb.nodes if i not in ga.nodes}
    claimed: set[str] = set()

    def reruns(variant_names: list[str]) -> dict:
        ids = {i for v in variant_names for i in gb.variants.get(v, [])}
        mine = [n for n in gb.ordered() if n.id in new and n.id in ids and n.id not in claimed]
        claimed.update(n.id for n in mine)
        return {"stages": [{"id": n.id, "why": why(n, ga, new)} for n in mine], "cost": totals(mine, price)}

    va, vb = set(ga.variants), set(gb.variants)
    entries = []
    changes = semantic_diff(ea.base, eb.base)
    if (ea.base.seeds, ea.base.seeds_for) != (eb.base.seeds, eb.base.seeds_for):
        changes.append(f"~ seeds: {_seeds_text(ea.base)} -> {_seeds_text(eb.base)}")
    if ea.base.seeds_from != eb.base.seeds_from:
        changes.append(f"~ seeds_from: {show('seeds_from', ea.base.seeds_from)} -> {show('seeds_from', eb.base.seeds_from)}")
    base_b = select_variants(list(gb.variants), "base")
    entries.append({"kind": "base", "name": "base", "status": "changed" if changes else "unchanged",
                    "changes": changes, "added_variants": sorted(set(base_b) - va),
                    "removed_variants": sorted(set(select_variants(list(ga.variants), "base")) - vb),
                    **reruns(base_b)})
    blocks_a, blocks_b = _variant_blocks(ea), _variant_blocks(eb)
    for name in [g for g in groups(list(gb.variants)) if g != "base" and "[" not in g]:
        sec = blocks_b.get(name)
        old = blocks_a.get(name)
        status = "added" if old is None else "changed" if _canon(old.body) != _canon(sec.body) else "unchanged"
        names = select_variants(list(gb.variants), name)
        entry = {"kind": sec.kind if sec else "variant", "name": name, "status": status,
                 "changes": [f"{_describe(old)} -> {_describe(sec)}"] if status == "changed" else
                 [_describe(sec)] if sec and status == "added" else [],
                 "added_variants": sorted(set(names) - va),
                 "removed_variants": sorted(set(select_variants(list(ga.variants), name)) - vb), **reruns(names)}
        entries.append(entry)
    for name in sorted(set(blocks_a) - set(blocks_b)):
        gone = select_variants(list(ga.variants), name)
        ids = {i for v in gone for i in ga.variants[v]} - set(gb.nodes)
        entries.append({"kind": blocks_a[name].kind, "name": name, "status": "removed", "changes": [],
                        "added_variants": [], "removed_variants": gone, "stages": [],
                        "dropped_stages": sorted(ids), "cost": totals([], price)})
    rest = [n for n in gb.ordered() if n.id in new and n.id not in claimed]  # reports: their rows changed
    if rest:
        entries.append({"kind": "shared", "name": "stages of no single variant (reports)", "status": "changed",
                        "changes": [], "added_variants": [], "removed_variants": [],
                        "stages": [{"id": n.id, "why": why(n, ga, new)} for n in rest], "cost": totals(rest, price)})
    all_new = [n for n in gb.ordered() if n.id in new]
    return {"entries": entries, "total": totals(all_new, price), "reused": sorted(set(gb.nodes) & set(ga.nodes)),
            "dropped": sorted(set(ga.nodes) - set(gb.nodes))}


def diff_text(d: dict) -> str:
    from olmospec.plan_text import money

    out = []
    for e in d["entries"]:
        interesting = e["status"] != "unchanged" or e["stages"] or e["added_variants"] or e["removed_variants"]
        if e["kind"] == "base":
            out.append("base experiment: " + ("unchanged" if not e["changes"] else f"{len(e['changes'])} change(s)"))
            out += [f"  {c}" for c in e["changes"]]
        elif not interesting:
            continue
        else:
            sign = {"added": "+", "removed": "-", "changed": "~", "unchanged": " "}[e["status"]]
            head = f"{sign} {e['kind']} {e['name']}" if e["kind"] != "shared" else e["name"]
            detail = f": {e['changes'][0]}" if e["changes"] else ": unchanged itself" if e["status"] == "unchanged" else ""
            out.append(head + detail)
        if e["added_variants"]:
            out.append(f"  adds {len(e['added_variants'])} variant(s): {', '.join(e['added_variants'])}")
        if e["removed_variants"]:
            out.append(f"  removes {len(e['removed_variants'])} variant(s): {', '.join(e['removed_variants'])}")
        if e.get("dropped_stages"):
            out.append(f"  {len(e['dropped_stages'])} of A's stages are no longer run")
        if e["stages"]:
            out.append(f"  runs {money(e['cost'])} that A does not have:")
            width = max(len(s["id"]) for s in e["stages"])
            out += [f"    {s['id'].ljust(width)}  {s['why']}" for s in e["stages"]]
        elif e["kind"] == "base" and e["changes"]:
            seeds = any(c.startswith("~ seeds") for c in e["changes"])
            out.append("  reruns none of the base's stages" + (" (what a seeds change runs is listed under each "
                                                                 "variant it seeds)" if seeds else ""))
    t = d["total"]
    out.append("")
    out.append(f"B runs {money(t)} that A does not have; reuses {len(d['reused'])} of A's stages"
               + (f"; {len(d['dropped'])} of A's stages are not in B" if d["dropped"] else ""))
    return "\n".join(out)


def rerun_set(ga: Graph, gb: Graph) -> list[tuple[str, str]]:
    """(stage id in B, why) for every stage of B that A does not already have."""
    new = {i for i in gb.nodes if i not in ga.nodes}
    return [(n.id, why(n, ga, new)) for n in gb.ordered() if n.id in new]
