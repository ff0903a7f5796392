"""Contamination checks: which evaluation items occur in the data a training stage read.

The rule and its code are the decontamination step's (`runners.curation.decontam`): text normalized
the same way (NFKC, lowercase, punctuation removed, whitespace collapsed), word 8-grams, and an item
counted as found in a document when at least 50% of its distinct n-grams occur there. Running the
same code on the same documents is what makes "decontaminated" and "checked clean" agree: a stage
whose data went through `decontaminate` reports no item, its ablation without the step reports the
items the step would have removed.

One check per training stage (content-addressed, so shared by every eval and variant that sees the
same data); each eval stage copies the checks of the stages behind its model into its metrics, and
the report flags every cell whose benchmark was found in that model's training data.

    python -m runners.contamination --config stages/contamination-<stage>-<hash>.json
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from evals.items import read_items


def check(inputs: list[dict[str, Any]], tasks: list[dict[str, Any]], ngram: int = 8,
          min_overlap: float = 0.5) -> dict[str, Any]:
    """`inputs`: [{"name", "input": docs config}], `tasks`: [{"name", "path", "type"}] -> the report."""
    from runners.curation.decontam import build_index, scan
    from runners.inputs import read_all

    index = build_index({t["name"]: read_items(t["path"], _kind(t)) for t in tasks}, n=ngram)
    found: dict[str, set[str]] = defaultdict(set)
    by_input: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    documents = rejects = 0
    for inp in inputs:
        docs, bad = read_all(inp["input"])
        documents += len(docs)
        rejects += len(bad)
        per_task_items: dict[str, set[str]] = defaultdict(set)
        per_task_docs: dict[str, int] = defaultdict(int)
        for doc, matches in zip(docs, scan([d["text"] for d in docs], index, min_overlap), strict=True):
            for bench in {m.unit.benchmark for m in matches}:
                per_task_docs[bench] += 1
            for m in matches:
                per_task_items[m.unit.benchmark].add(m.unit.item_id)
        for t in tasks:
            name = t["name"]
            found[name] |= per_task_items[name]
            by_input[name][inp["name"]] = {"items_found": len(per_task_items[name]),
                                           "documents": per_task_docs[name], "examples": sorted(per_task_items[name])[:5]}
    report = {name: {"items": index.items[name], "items_too_short": index.skipped[name],
                     "items_found": len(found[name]), "found": sorted(found[name]), "by_input": by_input[name]}
              for name in sorted(index.items)}
    return {"ngram": ngram, "min_overlap": min_overlap, "documents": documents, "rejects": rejects,
            "tasks": report}


def _kind(task: dict[str, Any]) -> str:
    return task.get("type") if task.get("type") in ("generate", "multiple_choice", "ifeval") else "generate"
