"""The `contamination` stage: evaluation items found in one training stage's data (evals.contamination).

    python -m runners.contamination --config stages/contamination-<stage>-<hash>.json

Writes `contamination.json` (per task: items, items found, their ids, those found with their answer,
per input) and `metrics.json` (the counts per task), read by the eval stages of the models trained on
this data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from evals.contamination import check

    report = check(cfg["inputs"], cfg["tasks"], cfg.get("ngram", 8), cfg.get("min_overlap", 0.5))
    report["stage"] = cfg["stage"]
    out = Path(cfg["output"])
    write_json(out / "contamination.json", report)
    found = {t: r["items_found"] for t, r in report["tasks"].items()}
    seen = {t: len(r["answer_seen"]) for t, r in report["tasks"].items()}
    write_json(out / "metrics.json", {"stage": cfg["stage"], "documents": report["documents"], "items_found": found,
                                      "answer_seen": seen})
    print(f"contamination {cfg['stage']}: " + ", ".join(
        f"{t} {n}/{report['tasks'][t]['items']} ({seen[t]} with their answer)" for t, n in found.items()))
    return {}


def main(argv: list[str] | None = None) -> None:
    stage_main("contamination", __doc__, run, argv)


if __name__ == "__main__":
    main()
