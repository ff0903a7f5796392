"""The short table the benchmark prints last (the full figures are in its JSON)."""

from __future__ import annotations


def _f(x, spec: str = ",.0f", none: str = "-") -> str:
    return none if x is None else format(x, spec)


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _train_row(label: str, r: dict | None) -> list[str]:
    if not r:
        return [label, "not run", "", "", "", ""]
    st = r.get("steady")
    if st is None:
        return [label, "FAILED: " + r.get("error", "no steps"), "", "", "", ""]
    layers = r.get("flops", {}).get("layers")
    note = f"{layers} layers, {st['steps_timed']} steps timed"
    if r.get("first_try"):
        note += " (fallback variant)"
    return [label, _f(st["tokens_per_s"]), _pct(st["mfu_vs_measured_peak"]), _pct(st["mfu_vs_datasheet"]),
            f"{st['peak_mem_gib']:.1f}", note]


def table(res: dict) -> str:
    rows = [["phase", "tokens/s", "MFU (measured peak)", "MFU (datasheet)", "peak GiB", "note"]]
    peak = res.get("peak") or {}
    ds = res.get("datasheet_peak") or {}
    if peak.get("flops"):
        rows.append(["matmul peak", "", f"{peak['flops'] / 1e12:.4g} TFLOP/s ({peak['dtype']})",
                     f"{ds['flops'] / 1e12:.1f} TFLOP/s ({ds['name']})" if ds else "-", "", f"n={peak['n']}"])
    rows.append(_train_row("train_1b", res.get("train_1b")))
    rows.append(_train_row("block_7b", res.get("block_7b")))
    vs = (res.get("block_7b") or {}).get("vs_olmo_core")
    if vs:
        rows.append(["  7B (32 layers) at that MFU", _f(vs["full_7b_tokens_per_s_at_this_mfu"]), "", "", "",
                     f"OLMo-core: {vs['olmo_core_7b_tokens_per_s']:,} tokens/s per H100"])
    gen = res.get("generation") or {}
    for key in ("batch_1", "batch_64"):
        if key in gen:
            g = gen[key]
            rows.append([f"generate {key.replace('_', ' ')}", _f(g["tokens_per_s"]), "", "", "",
                         f"{g['new_tokens']} tokens, {gen['device']}, {gen['dtype']}"])
    if gen.get("error"):
        rows.append(["generation", "FAILED: " + gen["error"][:80], "", "", "", ""])
    ev = res.get("eval") or {}
    if ev:
        if ev.get("error"):
            rows.append(["eval", "FAILED: " + ev["error"], "", "", "", ""])
        else:
            scores = ", ".join(f"{k} {v.get('value')}" for k, v in (ev.get("tasks") or {}).items())
            rows.append(["eval", "", "", "", "", f"{ev.get('backend')} on {ev.get('device')}: {scores}"])
    rows.append(["wall", "", "", "", "", f"{res['wall_s'].get('total', 0):.0f} s: " +
                 ", ".join(f"{k} {v:.0f}s" for k, v in res["wall_s"].items() if k != "total")])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    v = res.get("versions", {})
    lines.insert(0, f"{res['device'].get('name')}  torch {v.get('torch')}  transformers {v.get('transformers')}  "
                    f"{res['date']}  mode {res['mode']}")
    return "\n".join(lines)
