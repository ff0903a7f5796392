"""`olmospec plan` as text: the stage table, the totals with the unpriced stages beside them, and
the per-variant costs (own total, and beyond the stages shared with the base)."""

from __future__ import annotations


def human(x: float | None, unit: str = "") -> str:
    if x is None:
        return "-"
    for div, s in ((1e15, "P"), (1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.3g}{s}{unit}"
    return f"{x:.3g}{unit}"


def _sci(x: float | None) -> str:
    return "-" if not x else f"{x:.3g}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def unpriced_line(total: dict) -> str:
    """'3 stages have no throughput: sft, dpo, rlvr x3' (empty when every model stage is priced)."""
    items = total.get("unpriced") or []
    if not items:
        return ""
    n = sum(i["stages"] for i in items)
    names = ", ".join(i["name"] + (f" x{i['stages']}" if i["stages"] > 1 else "") for i in items)
    return f"{n} stage{'s' if n != 1 else ''} {'have' if n != 1 else 'has'} no throughput (no GPU-hours): {names}"


def money(total: dict) -> str:
    """'1,234 GPU-h, $2,468' for a total (the dollars only when a price is known)."""
    gh = f"{total['gpu_hours']:,.0f} GPU-h" if total["gpu_hours"] >= 10 else f"{total['gpu_hours']:.3g} GPU-h"
    out = f"{total['stages']} stage{'s' if total['stages'] != 1 else ''}, {gh}"
    if total["cost_usd"]:
        out += f", ${total['cost_usd']:,.0f}"
    line = unpriced_line(total)
    return out + (f"  [{line}]" if line else "")


def _table(rows: list[tuple[str, ...]], left: int) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return lines


def plan_table(plan: dict) -> str:
    rows = [("stage", "kind", "variants", "params", "tokens", "FLOPs", "MFU", "GPU-h", "cost $")]
    for s in plan["stages"]:
        rows.append((s["id"], s["kind"], str(len(s["variants"])), human(s["params"]), human(s["tokens"]),
                     _sci(s["flops"]), _pct(s["mfu"]), human(s["gpu_hours"]), human(s["cost_usd"])))
    t = plan["total"]
    rows.append(("total", "", "", "", human(t["tokens"]), _sci(t["flops"]), "", human(t["gpu_hours"]),
                 human(t["cost_usd"]) if t["cost_usd"] else "-"))
    lines = _table(rows, 2)
    lines.insert(len(lines) - 1, lines[1])
    gpu = plan["gpu"]
    lines.append(f"MFU: throughput x FLOPs per token / the {gpu['name']}'s {human(gpu['peak_bf16_flops'])}FLOP/s "
                 "bf16 peak")
    line = unpriced_line(t)
    if line:
        lines.append(f"not priced: {line}")
    vs = plan["variants"]
    lines.append(f"{len(vs)} variant(s), {t['stages']} distinct stage(s) "
                 f"({sum(len(v['stages']) for v in vs)} if every variant ran alone)")
    lines.append("")
    lines += variants_table(plan["groups"])
    return "\n".join(lines)


def variants_table(groups: list[dict]) -> list[str]:
    rows = [("variant", "seeds/points", "stages", "GPU-h", "cost $", "beyond base: stages", "GPU-h", "cost $",
             "no throughput")]
    for grp in groups:
        t, b = grp["total"], grp["beyond_base"]
        missing = ", ".join(dict.fromkeys(i["name"] for i in b["unpriced"] or t["unpriced"]))
        rows.append((grp["name"], str(len(grp["variants"])), str(t["stages"]), human(t["gpu_hours"]),
                     human(t["cost_usd"]) if t["cost_usd"] else "-", str(b["stages"]), human(b["gpu_hours"]),
                     human(b["cost_usd"]) if b["cost_usd"] else "-", missing or "-"))
    return _table(rows, 1)


def variant_summary(grp: dict) -> str:
    """What `plan --variant V` prints under its stage table."""
    names = grp["variants"]
    shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
    return (f"variant {grp['name']} ({len(names)} variant(s): {shown})\n"
            f"  own total:  {money(grp['total'])}\n"
            f"  beyond the base (the stages it does not share with it): {money(grp['beyond_base'])}")
