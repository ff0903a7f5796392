"""`make demo`: check, plan and run the embedded default spec (specs/tiny.ospec) end to end, then
print the result tables its report stages wrote (Markdown; LaTeX, HTML and CSV beside them in
runs/<report>/report/) and how long each part took.

    python scripts/demo.py [--spec specs/tiny.ospec]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def olmospec(*args: str) -> int:
    print(f"\n$ olmospec {' '.join(args)}", flush=True)
    return subprocess.call([str(BIN / "olmospec"), *args], cwd=ROOT)


def summary(spec: str) -> str:
    sys.path.insert(0, str(ROOT))
    from olmospec.api import load_spec
    from olmospec.graph_stages import build_graph

    g = build_graph(load_spec(ROOT / spec), ROOT)
    rows = [("stage", "kind", "variants", "result")]
    for n in g.ordered():
        m = ROOT / n.metrics[0] if n.metrics else ROOT / "runs" / n.id / "metrics.json"
        if not m.exists():
            continue
        data = json.loads(m.read_text())
        keys = [k for k in ("loss_first_tenth", "loss_last_tenth", "docs_in", "docs_kept", "docs_removed",
                            "docs_modified", "docs", "tokens", "heldout_accuracy", "vocab_size", "budget") if k in data]
        shown = ", ".join(f"{k}={data[k]:.4g}" if isinstance(data[k], float) else f"{k}={data[k]}" for k in keys[:5])
        rows.append((n.id, n.kind, str(len(n.variants)), shown or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows)


def reports(spec: str) -> list[Path]:
    """The Markdown tables of the spec's report stages, in pipeline order."""
    sys.path.insert(0, str(ROOT))
    from olmospec.api import load_spec
    from olmospec.graph_stages import build_graph

    g = build_graph(load_spec(ROOT / spec), ROOT)
    return [p for n in g.ordered() if n.kind == "report" for p in sorted((ROOT / n.out_dir / "report").glob("*.md"))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="specs/tiny.ospec")
    args = ap.parse_args()
    t0 = time.monotonic()
    for cmd in (("check", args.spec), ("plan", args.spec), ("run", args.spec)):
        rc = olmospec(*cmd)
        if rc:
            return rc
    print("\nWhat each stage measured (runs/*/metrics.json):\n")
    print(summary(args.spec))
    for md in reports(args.spec):
        print(f"\n===== {md.relative_to(ROOT)} (LaTeX, HTML, CSV beside it) =====\n")
        print(md.read_text(encoding="utf-8"))
    print(f"demo: {time.monotonic() - t0:.0f} s in all (olmospec run printed the time per stage kind)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
