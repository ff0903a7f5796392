"""Reading prompt and pair records, with every unusable record sent to the rejects with its reason,
file and line (docs/CONTRACTS.md: prompts `{"id", "prompt", ...}`, pairs `{"id", "prompt",
"chosen", "rejected", ...}`; the spec's `text`/`id` fields name the prompt and id fields)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from runners.curation.io import Reject
from runners.curation.io import _records as records_of  # (line, record or a bad-record marker)
from runners.inputs import fields_of, shards_of


@dataclass
class Read:
    """The usable records of an input (with their file and line) and the rejects."""

    records: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def reject(self, file: str, line: int, reason: str, rid: Any = None) -> None:
        self.rejects.append(Reject(file, line, reason, rid if isinstance(rid, str) else None))

    def counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.rejects).items()))


def _raw(cfg: dict[str, Any]) -> Iterator[tuple[str, int, Any]]:
    # a `pairs` stage output is one jsonl file; anything else is a source or curation output
    for shard in [cfg["path"]] if cfg.get("kind") == "pairs" else shards_of(cfg):
        for line, rec in records_of(shard):
            yield shard, line, rec


def _problem(rec: Any, prompt_field: str, id_field: str, sides: tuple[str, ...]) -> str | None:
    if not isinstance(rec, dict):
        return getattr(rec, "reason", "not_an_object")
    if rec.get(id_field) is None:
        return "missing_id"
    if not isinstance(rec[id_field], str):
        return "id_not_string"
    prompt = rec.get(prompt_field)
    if prompt is None:
        return "no_prompt"
    if not isinstance(prompt, str):
        return "prompt_not_string"
    if not prompt.strip():
        return "empty_prompt"
    for side in sides:
        text = rec.get(side)
        if text is None:
            return f"no_{side}"
        if not isinstance(text, str):
            return f"{side}_not_string"
        if not text.strip():
            return f"empty_{side}"
    return None


def read(cfg: dict[str, Any], *, pairs: bool, limit: int | None = None) -> Read:
    """Prompt records (`pairs=False`) or pair records of an input, in file order, up to `limit`
    usable ones; records get `id` and `prompt` keys whatever the spec named those fields."""
    prompt_field, id_field = ("prompt", "id") if cfg.get("kind") == "pairs" else fields_of(cfg)
    sides = ("chosen", "rejected") if pairs else ()
    out, seen = Read(), set()
    for file, line, rec in _raw(cfg):
        if limit is not None and len(out.records) >= limit:
            break
        why = _problem(rec, prompt_field, id_field, sides)
        rid = rec.get(id_field) if isinstance(rec, dict) else None
        if why is None and rid in seen:
            why = "duplicate_id"
        if why is not None:
            out.reject(file, line, why, rid)
            continue
        seen.add(rid)
        out.records.append((file, line, {**rec, "id": rid, "prompt": rec[prompt_field]}))
    return out
