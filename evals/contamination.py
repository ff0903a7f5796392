"""Contamination checks: which evaluation items occur in the data a training stage read.

The rule and its code are the decontamination step's (`runners.curation.decontam`): text normalized
the same way (NFKC, lowercase, punctuation removed, whitespace collapsed), word 8-grams, and an item
counted as found in a document when at least 50% of its distinct n-grams occur there. Running the
same code on the same documents is what makes "decontaminated" and "checked clean" agree: a stage
whose data went through `decontaminate` reports no item, its ablation without the step reports the
items the step would have removed.

The rule matches an item's question; it cannot tell a copy of the item from a sibling written from
the same template with other numbers (generated problems share most of their 8-grams). So each found
item is also checked for its gold answer (the answer, or the correct choice) within the 12 words
after the question's matched n-grams, in the same paragraph (text up to a blank line: a worksheet's
next problem must not lend its numbers), as OLMo 3's decon uses answer matches as supporting
evidence (arXiv:2512.13961, appendix A.5). `answer_seen` lists the items found with their
answer; the others were matched on their question only. An item without a reference answer (an
instruction prompt) can only be a question match.

One check per training stage (content-addressed, so shared by every eval and variant that sees the
same data); each eval stage copies the checks of the stages behind its model into its metrics, and
the report marks every cell whose benchmark was found in that model's training data.

    python -m runners.contamination --config stages/contamination-<stage>-<hash>.json
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from evals.items import read_items

ANSWER_WINDOW = 24  # words after the last matched n-gram of the question where its answer must start
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


def answer_follows(doc_words: list[str], question: list[str], answer: list[str], n: int = 8) -> bool:
    """True when `doc_words` (one paragraph, normalized) holds the question's own numbers and `answer`
    starts within ANSWER_WINDOW words after the last of its word n-grams of `question` (the whole
    question when it is shorter than n words)."""
    if not answer or not {w for w in question if w.isdigit()} <= set(doc_words):
        return False
    k = min(n, len(question))
    grams = {tuple(question[i : i + k]) for i in range(len(question) - k + 1)}
    ends = [i + k for i in range(len(doc_words) - k + 1) if tuple(doc_words[i : i + k]) in grams]
    if not ends:
        return False
    after = doc_words[ends[-1] : ends[-1] + ANSWER_WINDOW + len(answer)]
    return any(after[j : j + len(answer)] == answer for j in range(len(after) - len(answer) + 1))


def _answer_seen(text: str, item: Mapping[str, Any], n: int) -> bool:
    from runners.curation.decontam import item_parts, normalize

    parts = item_parts(item)
    question = normalize(parts.get("question", "")).split()
    answer = normalize(parts.get("answer", "")).split()
    return any(answer_follows(normalize(p).split(), question, answer, n) for p in _PARAGRAPH.split(text))


def check(inputs: list[dict[str, Any]], tasks: list[dict[str, Any]], ngram: int = 8,
          min_overlap: float = 0.5) -> dict[str, Any]:
    """`inputs`: [{"name", "input": docs config}], `tasks`: [{"name", "path", "type"}] -> the report."""
    from runners.curation.decontam import build_index, scan
    from runners.inputs import read_all

    items = {t["name"]: read_items(t["path"], _kind(t)) for t in tasks}
    by_id = {name: {str(r["id"]): r for r in recs} for name, recs in items.items()}
    index = build_index(items, n=ngram)
    found: dict[str, set[str]] = defaultdict(set)
    seen: dict[str, set[str]] = defaultdict(set)
    by_input: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    documents = rejects = 0
    for inp in inputs:
        docs, bad = read_all(inp["input"])
        documents += len(docs)
        rejects += len(bad)
        per_task_items: dict[str, set[str]] = defaultdict(set)
        per_task_seen: dict[str, set[str]] = defaultdict(set)
        per_task_docs: dict[str, int] = defaultdict(int)
        for doc, matches in zip(docs, scan([d["text"] for d in docs], index, min_overlap), strict=True):
            for bench in {m.unit.benchmark for m in matches}:
                per_task_docs[bench] += 1
            for m in matches:
                bench, item_id = m.unit.benchmark, m.unit.item_id
                per_task_items[bench].add(item_id)
                if item_id not in per_task_seen[bench] and _answer_seen(doc["text"], by_id[bench][item_id], ngram):
                    per_task_seen[bench].add(item_id)
        for t in tasks:
            name = t["name"]
            found[name] |= per_task_items[name]
            seen[name] |= per_task_seen[name]
            by_input[name][inp["name"]] = {"items_found": len(per_task_items[name]),
                                           "answer_seen": len(per_task_seen[name]),
                                           "documents": per_task_docs[name], "examples": sorted(per_task_items[name])[:5]}
    report = {name: {"items": index.items[name], "items_too_short": index.skipped[name],
                     "items_found": len(found[name]), "found": sorted(found[name]),
                     "answer_seen": sorted(seen[name]), "by_input": by_input[name]}
              for name in sorted(index.items)}
    return {"ngram": ngram, "min_overlap": min_overlap, "documents": documents, "rejects": rejects,
            "tasks": report}


def _kind(task: dict[str, Any]) -> str:
    return task.get("type") if task.get("type") in ("generate", "multiple_choice", "ifeval") else "generate"
