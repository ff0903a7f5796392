"""`make demo`: check, plan and run the embedded default spec (specs/tiny.ospec) end to end, then
print what every stage that ran measured. Stage kinds without a runner yet are named, not faked.

    python scripts/demo.py [--spec specs/tiny.ospec]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="specs/tiny.ospec")
    args = ap.parse_args()
    for cmd in (("check", args.spec), ("plan", args.spec), ("run", args.spec)):
        rc = olmospec(*cmd)
        if rc:
            return rc
    print("\nResults (from runs/*/metrics.json):\n")
    print(summary(args.spec))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
