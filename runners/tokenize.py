"""The `tokenize` stage: documents -> token shards (docs/CONTRACTS.md) that the training runner
reads. A document carrying `repeat = k` (from quality-aware upsampling) is written k times, its
copies spread apart so that no training sequence holds two of them (`spread`, the longest sequence
length of the stages that read the shard, comes from the compiler).

    python -m runners.tokenize --config stages/tokenize-<name>-<hash>.json
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import StageFailure, stage_main


def _docs(cfg: dict[str, Any], rejects: list) -> Iterator[dict[str, Any]]:
    """Documents shard by shard (only one shard in memory); unreadable records go to `rejects`."""
    from runners.inputs import input_parts, read_docs, shards_of

    for part in input_parts(cfg):
        for shard in shards_of(part):
            docs, bad = read_docs(part, shard)
            rejects += bad
            yield from docs


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from runners.curation.io import write_jsonl
    from runners.curation.order import SpacingError
    from runners.curation.tokenize import load_tokenizer, write_shard

    tok = load_tokenizer(cfg["tokenizer"])
    out = Path(cfg["output"])
    rejects: list = []
    counted = {"docs": 0}

    def counting(docs):
        for d in docs:
            counted["docs"] += 1
            yield d

    name = cfg["input"].get("name") or cfg["stage_id"]
    try:
        meta = write_shard(counting(_docs(cfg["input"], rejects)), tok, out / "shards", source=name,
                           spread=int(cfg.get("spread") or 0), seed=int(cfg.get("seed") or 0))
    except (SpacingError, ValueError) as e:
        raise StageFailure(f"tokenize {name}: {e}") from None
    write_jsonl(out / "rejects.jsonl", [r.to_json() for r in rejects])
    metrics = {"docs": counted["docs"], "docs_written": meta["n_docs"], "tokens": meta["n_tokens"],
               "rejects": len(rejects)}
    write_json(out / "metrics.json", metrics)
    print(f"tokenize {name}: {meta['n_docs']} documents, {meta['n_tokens']} tokens"
          + (f", {len(rejects)} unreadable records" if rejects else ""))
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main("tokenize", __doc__, run, argv)


if __name__ == "__main__":
    main()
