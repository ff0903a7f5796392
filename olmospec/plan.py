"""What a spec will cost: per stage parameters, tokens, FLOPs, GPU-hours and price; and what a
change reruns (`olmospec diff`).

FLOPs are 6·N·D plus the attention term (windowed for sliding layers), from `olmospec.arch`, the same
formula the training runner uses for MFU. GPU-hours come from the stage's declared throughput
(`runtime { throughput = 7700 tok/s/gpu }`): tokens / throughput / 3600.
"""

from __future__ import annotations

from olmospec.graph import Graph


def plan_json(g: Graph, price: float | None = None) -> dict:
    stages = []
    total = {"stages": 0, "tokens": 0, "flops": 0.0, "gpu_hours": 0.0, "cost_usd": 0.0}
    for n in g.ordered():
        cost = n.gpu_hours * price if (price is not None and n.gpu_hours) else n.price
        stages.append({
            "id": n.id, "name": n.label, "kind": n.kind, "variants": sorted(n.variants), "params": n.params,
            "tokens": n.tokens, "flops": n.flops, "gpu_hours": n.gpu_hours, "cost_usd": cost,
        })
        total["stages"] += 1
        total["tokens"] += n.tokens or 0
        total["flops"] += n.flops or 0.0
        total["gpu_hours"] += n.gpu_hours or 0.0
        total["cost_usd"] += cost or 0.0
    variants = [{"name": v, "stages": ids} for v, ids in g.variants.items()]
    return {"variants": variants, "stages": stages, "total": total}


def human(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    for div, s in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{s}{unit}"
    return f"{x:.3g}{unit}"


def _sci(x: float | None) -> str:
    return "-" if not x else f"{x:.3g}"


def plan_table(plan: dict) -> str:
    rows = [("stage", "kind", "variants", "params", "tokens", "FLOPs", "GPU-h", "cost $")]
    for s in plan["stages"]:
        rows.append((s["id"], s["kind"], str(len(s["variants"])), human(s["params"]), human(s["tokens"]),
                     _sci(s["flops"]), human(s["gpu_hours"]), human(s["cost_usd"])))
    t = plan["total"]
    rows.append(("total", "", "", "", human(t["tokens"]), _sci(t["flops"]), human(t["gpu_hours"]),
                 human(t["cost_usd"]) if t["cost_usd"] else "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.insert(len(lines) - 1, "  ".join("-" * w for w in widths))
    vs = plan["variants"]
    lines.append("")
    lines.append(f"{len(vs)} variant(s), {t['stages']} distinct stage(s) "
                 f"({sum(len(v['stages']) for v in vs)} if every variant ran alone)")
    return "\n".join(lines)
