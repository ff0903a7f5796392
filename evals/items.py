"""Evaluation items: read and check a task's JSONL file before any model is loaded.

Formats (docs/CONTRACTS.md, "Evaluation items"):

    generate          {"id", "question", "answer"}
    multiple_choice   {"id", "question", "choices": [str, ...], "label": int}
    ifeval            {"id", "prompt", "constraints": [{"type": ...}, ...]}
    ruler (generated) {"id", "input", "outputs": [str, ...], "length", "max_length", ...}
    code (HumanEval)  {"task_id", "prompt", "test", "entry_point", ...}

A malformed item raises `EvalDataError("FILE:LINE: what is wrong")`: the eval stage reports it in
one line and exits 1, so a broken task never costs a model load and is never skipped silently.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


class EvalDataError(ValueError):
    """A task file that cannot be evaluated; the message names the file and line."""


def _str(rec: dict, key: str) -> str | None:
    v = rec.get(key)
    return None if isinstance(v, str) and v.strip() else f"needs a non-empty string {key!r}"


def _generate(rec: dict) -> str | None:
    return _str(rec, "question") or _answer(rec)


def _answer(rec: dict) -> str | None:
    v = rec.get("answer")
    ok = isinstance(v, str) and v.strip() or isinstance(v, int | float) and not isinstance(v, bool)
    return None if ok else "needs an 'answer' (a non-empty string or a number)"


def _multiple_choice(rec: dict) -> str | None:
    if err := _str(rec, "question"):
        return err
    choices, label = rec.get("choices"), rec.get("label")
    if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
        return "needs 'choices': a list of at least two non-empty strings"
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < len(choices):
        return f"needs 'label': an integer index into its {len(choices)} choices, got {label!r}"
    return None


def _ifeval(rec: dict) -> str | None:
    from runners.rlvr.ifeval import validate

    return _str(rec, "prompt") or validate(rec.get("constraints"))


def _ruler(rec: dict) -> str | None:
    outputs = rec.get("outputs")
    if not isinstance(outputs, list) or not outputs or not all(isinstance(o, str) and o for o in outputs):
        return "needs 'outputs': a non-empty list of reference strings"
    return _str(rec, "input")


def _code(rec: dict) -> str | None:
    return _str(rec, "prompt") or _str(rec, "test") or _str(rec, "entry_point")


CHECKS: dict[str, Callable[[dict], str | None]] = {
    "generate": _generate,
    "multiple_choice": _multiple_choice,
    "ifeval": _ifeval,
    "ruler": _ruler,
    "code": _code,
}


def read_items(path: str | Path, kind: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The items of a JSONL task file, each checked against `kind`'s format (see the module doc).

    Every line is checked even when `limit` keeps only the first items: a file is valid or not.
    """
    if kind not in CHECKS:
        raise EvalDataError(f"{path}: unknown task type {kind!r} (known: {', '.join(CHECKS)})")
    p = Path(path)
    try:
        raw = gzip.decompress(p.read_bytes()) if p.name.endswith(".gz") else p.read_bytes()
        lines = raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError, EOFError) as e:
        raise EvalDataError(f"{p}: cannot read the task file ({e})") from None
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    id_key = "task_id" if kind == "code" else "id"
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise EvalDataError(f"{p}:{n}: not valid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(rec, dict):
            raise EvalDataError(f"{p}:{n}: an item must be a JSON object, got {type(rec).__name__}")
        rid = rec.get(id_key)
        if not isinstance(rid, str) or not rid:
            raise EvalDataError(f"{p}:{n}: needs a non-empty string {id_key!r}")
        if rid in seen:
            raise EvalDataError(f"{p}:{n}: id {rid!r} already used on line {seen[rid]}")
        seen[rid] = n
        if err := CHECKS[kind](rec):
            raise EvalDataError(f"{p}:{n}: {kind} item {rid!r} {err}")
        items.append(rec)
    if not items:
        raise EvalDataError(f"{p}: no items")
    return items[:limit] if limit else items
