"""Do two runs of one pipeline agree? Compares, for every stage both `dvc.lock` files hold, the md5
of each output (receipts excluded: they time the run). Prints the count of equal and differing
outputs, then each differing one; exit status 1 when any differs.

    python scripts/compare_runs.py RUN_A/dvc.lock RUN_B/dvc.lock

This is how two clean runs of the demo, or a run killed and restarted against an uninterrupted
one, are checked: the same stage ids must give the same bytes. Training plots (plots/train.csv)
hold tokens/s and step times, so they differ between runs by design; metrics.json must not.
"""

from __future__ import annotations

import sys

import yaml

SKIP = ("receipt.json",)


def outputs(lock_path: str) -> dict[str, dict[str, str | None]]:
    with open(lock_path, encoding="utf-8") as f:
        stages = (yaml.safe_load(f) or {}).get("stages", {})
    return {sid: {o["path"]: o.get("md5") for o in st.get("outs", []) if not o["path"].endswith(SKIP)}
            for sid, st in stages.items()}


def compare(a: str, b: str) -> tuple[int, list[tuple[str, str]], int, int, int]:
    """(equal outputs, differing (stage, path), stages in both, only in a, only in b)."""
    oa, ob = outputs(a), outputs(b)
    common = sorted(set(oa) & set(ob))
    equal, differ = 0, []
    for sid in common:
        for path in sorted(set(oa[sid]) | set(ob[sid])):
            if oa[sid].get(path) == ob[sid].get(path):
                equal += 1
            else:
                differ.append((sid, path))
    return equal, differ, len(common), len(set(oa) - set(ob)), len(set(ob) - set(oa))


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    try:
        equal, differ, common, only_a, only_b = compare(*argv)
    except (OSError, yaml.YAMLError, AttributeError, KeyError, TypeError) as e:
        print(f"error: cannot read a dvc.lock ({' or '.join(argv)}): {e}", file=sys.stderr)
        return 1
    print(f"stages in both: {common} (only in the first: {only_a}, only in the second: {only_b}); "
          f"outputs equal: {equal}, differing: {len(differ)}")
    for sid, path in differ:
        print(f"  differs: {sid} {path}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
