"""The `tokenize` stage: documents -> token shards (docs/CONTRACTS.md) that the training runner
reads. A document carrying `repeat = k` (from quality-aware upsampling) is written k times.

    python -m runners.tokenize --config stages/tokenize-<name>-<hash>.json
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import stage_main


def _expanded(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for d in docs:
        for _ in range(int(d.get("repeat", 1))):
            yield d


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from runners.curation.tokenize import load_tokenizer, write_shard
    from runners.inputs import read_all

    docs, rejects = read_all(cfg["input"])
    tok = load_tokenizer(cfg["tokenizer"])
    out = Path(cfg["output"])
    meta = write_shard(_expanded(docs), tok, out / "shards", source=cfg["input"].get("name") or cfg["stage_id"])
    from runners.curation.io import write_jsonl

    write_jsonl(out / "rejects.jsonl", [r.to_json() for r in rejects])
    metrics = {"docs": len(docs), "docs_written": meta["n_docs"], "tokens": meta["n_tokens"], "rejects": len(rejects)}
    write_json(out / "metrics.json", metrics)
    print(f"tokenize {cfg['input'].get('name') or cfg['stage_id']}: {meta['n_docs']} documents, "
          f"{meta['n_tokens']} tokens" + (f", {len(rejects)} unreadable records" if rejects else ""))
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main("tokenize", __doc__, run, argv)


if __name__ == "__main__":
    main()
