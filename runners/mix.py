"""The `mix` stage: check a mix against the real token counts of its components and write the plan:
requested vs realized tokens and effective epochs per source. A share that the repetition cap
cannot meet fails here, before any training starts.

    python -m runners.mix --config stages/mix-<name>-<hash>.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from runners.curation.mixing import plan_mix, shard_tokens, write_plan

    comps = cfg["components"]
    available = {c["name"]: shard_tokens(c["path"]) for c in comps}
    budget = cfg.get("tokens") or sum(available.values())
    plan = plan_mix(available, {c["name"]: c["share"] for c in comps}, int(budget),
                    caps={c["name"]: c["max_repeat"] or 1.0 for c in comps})
    out = Path(cfg["output"])
    write_plan(plan, out)
    write_json(out / "mix.json", plan.to_json())
    metrics = {"budget": int(budget), "available": sum(available.values()),
               **{f"epochs.{r['source']}": r["epochs"] for r in plan.to_json()["sources"]}}
    write_json(out / "metrics.json", metrics)
    print(plan.to_markdown())
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main("mix", __doc__, run, argv)


if __name__ == "__main__":
    main()
