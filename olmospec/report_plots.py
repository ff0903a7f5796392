"""The report's plots (matplotlib, Agg backend, imported only here): training loss per stage, RL reward,
RULER score by length, and every delta with its interval; for a findings table, each finding's delta
with its interval and the side its claim expects. Returns PNG bytes by name; a plot with nothing to
show is left out rather than drawn empty."""

from __future__ import annotations

import io

from olmospec.report import Table


def _png(fig) -> bytes:
    buf = io.BytesIO()
    # NOTE: no creation-time metadata, so the same table draws the same bytes
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _train(t: Table, key: str, title: str, ylabel: str, log: bool):
    import matplotlib.pyplot as plt

    curves = {s: c for s, c in t.curves.get("train", {}).items() if key in c}
    if not curves:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    offset = 0.0
    for stage, c in curves.items():
        steps = [offset + s for s in c["step"]]
        ax.plot(steps, c[key], label=stage, linewidth=1)
        offset = steps[-1] if steps else offset
    ax.set_xlabel("step (stages in pipeline order)")
    ax.set_ylabel(ylabel)
    if log:
        ax.set_yscale("log")
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _png(fig)


def _ruler(t: Table):
    import matplotlib.pyplot as plt

    data = t.curves.get("ruler", {})
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, by_len in sorted(data.items()):
        lengths = sorted(by_len, key=int)
        ax.plot([int(n) for n in lengths], [by_len[n] for n in lengths], marker="o", label=name, linewidth=1)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("RULER score (0-100)")
    ax.set_ylim(-2, 102)
    ax.set_title("RULER by length")
    ax.legend(fontsize=7)
    return _png(fig)


def _deltas(t: Table):
    import matplotlib.pyplot as plt

    cols = [c for c in t.columns if any(r.cells[c].delta for r in t.rows)]
    if not cols:
        return None
    fig, axes = plt.subplots(1, len(cols), figsize=(3.2 * len(cols), 0.5 + 0.35 * len(t.rows)), squeeze=False)
    for ax, c in zip(axes[0], cols, strict=True):
        rows = [r for r in t.rows if r.cells[c].delta]
        ys = list(range(len(rows)))
        for y, r in zip(ys, rows, strict=True):
            d = r.cells[c].delta
            color = "tab:blue" if d.significant else "tab:gray"
            ax.errorbar(d.estimate, y, xerr=[[d.estimate - d.low], [d.high - d.estimate]], fmt="o", color=color)
        ax.axvline(0, color="k", linewidth=0.8)
        ax.set_yticks(ys, [r.label for r in rows], fontsize=7)
        ax.set_title(f"Δ {c} (points)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def _findings(t: Table):
    import matplotlib.pyplot as plt

    rows = [r for r in t.findings if r.delta is not None]
    if not rows:
        return None
    fig, axes = plt.subplots(len(rows), 1, figsize=(6, 0.9 * len(rows) + 0.4), squeeze=False)
    for ax, r in zip(axes[:, 0], rows, strict=True):
        d = r.delta
        span = max(abs(d.low), abs(d.high), 1e-9) * 1.3
        if r.expect != "none":
            ax.axvspan(0, span if r.expect == "higher" else -span, color="tab:green", alpha=0.12)
        color = "tab:blue" if r.agrees else "tab:red"
        ax.errorbar(d.estimate, 0, xerr=[[d.estimate - d.low], [d.high - d.estimate]], fmt="o", color=color)
        ax.axvline(0, color="k", linewidth=0.8)
        ax.set_xlim(-span, span)
        ax.set_yticks([])
        unit = "nats" if r.metric == "gold_logprob" else "points"
        ax.set_title(f"{r.name}: Δ {r.task} {r.metric} ({unit}); shaded: expected", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def render_plots(t: Table) -> dict[str, bytes]:
    import matplotlib

    matplotlib.use("Agg")
    if t.rows_kind == "findings":
        png = _findings(t)
        return {"findings": png} if png else {}
    plots = {"loss": _train(t, "loss", "training loss per stage", "loss", True),
             "reward": _train(t, "reward", "RL reward", "mean reward", False),
             "ruler": _ruler(t), "deltas": _deltas(t)}
    return {k: v for k, v in plots.items() if v is not None}
