"""lm-eval's `custom_dataset` for the local tasks: a checked JSONL file -> `{"test": datasets.Dataset}`.

lm-eval calls `load(**metadata, **dataset_kwargs)`. Each document keeps its whole record as a JSON
string (`record`), because Arrow would otherwise merge the different shapes of nested fields (one
constraint with a `word`, another with `min`/`max`) into one struct padded with nulls; the prompt
fields the templates use (`question`, `choices`, `label`, `target`) are set beside it.
"""

from __future__ import annotations

import json
from typing import Any

from evals.items import read_items

QUESTION_FIELD = {"generate": "question", "multiple_choice": "question", "ifeval": "prompt", "ruler": "input",
                  "code": "prompt"}


def documents(path: str, kind: str, limit: int | None = None, answer_prefix: str = "") -> list[dict[str, Any]]:
    docs = []
    for rec in read_items(path, kind, limit):
        doc = {"id": rec.get("id", rec.get("task_id")), "record": json.dumps(rec, sort_keys=True),
               "question": rec[QUESTION_FIELD[kind]], "answer_prefix": answer_prefix, "target": ""}
        if kind == "multiple_choice":
            doc |= {"choices": rec["choices"], "label": rec["label"]}
        elif kind == "generate":
            doc["target"] = str(rec["answer"])
        elif kind == "ruler":
            doc["target"] = " ".join(rec["outputs"])
        docs.append(doc)
    return docs


def load(path: str, kind: str, limit: int | None = None, answer_prefix: str = "", **_: Any) -> dict:
    import datasets

    return {"test": datasets.Dataset.from_list(documents(path, kind, limit, answer_prefix))}
