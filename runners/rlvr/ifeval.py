"""Checkable instruction constraints (IFEval-style), one small function per constraint type.

A constraint is a dict `{"type": T, ...params}` as in the RL prompts and evaluation items of
docs/CONTRACTS.md. `CHECKS[T]` is `(check(response, constraint) -> bool, required params,
optional params)`; `validate` names what is wrong with a constraint list, so a stage can reject a
bad record at load time instead of scoring it 0 forever. The seven types of the tiny corpus
(lowercase, uppercase, word_count, include_keyword, exclude_keyword, end_with, json) read exactly
as its generator's reference checker; the others follow the IFEval instruction definitions
(google-research `instruction_following_eval`), simplified to what a regex can decide.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Check = Callable[[str, dict], bool]


def _in_range(n: int, c: dict) -> bool:
    return c.get("min", 0) <= n <= c.get("max", float("inf"))


def _has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE) is not None


def sentences(text: str) -> list[str]:
    """Sentences: text split after `.`, `!` or `?` followed by whitespace; empty pieces dropped."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s.strip()]


def paragraphs(text: str) -> list[str]:
    """Paragraphs: text split at blank lines or at `***` lines (IFEval's separator)."""
    return [p for p in re.split(r"\n\s*\n|\n\s*\*\*\*\s*\n", text.strip()) if p.strip()]


def _json(text: str) -> bool:
    body = text.strip()
    fenced = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", body, re.DOTALL | re.IGNORECASE)
    try:
        json.loads(fenced.group(1) if fenced else body)
    except ValueError:
        return False
    return True


def _bullets(text: str) -> int:
    return len(re.findall(r"^\s*[*-]\s+\S", text, re.MULTILINE))


CHECKS: dict[str, tuple[Check, tuple[str, ...], tuple[str, ...]]] = {
    "lowercase": (lambda r, c: r == r.lower() and any(ch.isalpha() for ch in r), (), ()),
    "uppercase": (lambda r, c: r == r.upper() and any(ch.isalpha() for ch in r), (), ()),
    "word_count": (lambda r, c: _in_range(len(r.split()), c), (), ("min", "max")),
    "sentence_count": (lambda r, c: _in_range(len(sentences(r)), c), (), ("min", "max")),
    "paragraph_count": (lambda r, c: _in_range(len(paragraphs(r)), c), (), ("min", "max")),
    "include_keyword": (lambda r, c: _has_word(r, c["word"]), ("word",), ()),
    "exclude_keyword": (lambda r, c: not _has_word(r, c["word"]), ("word",), ()),
    "keyword_frequency": (
        lambda r, c: _in_range(len(re.findall(rf"\b{re.escape(c['word'])}\b", r, re.IGNORECASE)), c),
        ("word",), ("min", "max"),
    ),
    "start_with": (lambda r, c: r.lstrip().startswith(c["text"]), ("text",), ()),
    "end_with": (lambda r, c: r.rstrip().endswith(c["text"]), ("text",), ()),
    "no_comma": (lambda r, c: "," not in r, (), ()),
    "quotation": (lambda r, c: len(r.strip()) >= 2 and r.strip()[0] == r.strip()[-1] == '"', (), ()),
    "title": (lambda r, c: re.search(r"<<[^\n]+>>", r) is not None, (), ()),
    "bullet_count": (lambda r, c: _in_range(_bullets(r), c), (), ("min", "max")),
    "json": (lambda r, c: _json(r), (), ()),
}


def validate(constraints: object) -> str | None:
    """Why `constraints` cannot be scored, or None when every constraint is well formed."""
    if not isinstance(constraints, list) or not constraints:
        return "constraints must be a non-empty list"
    for i, c in enumerate(constraints):
        if not isinstance(c, dict) or c.get("type") not in CHECKS:
            got = c.get("type") if isinstance(c, dict) else c
            return f"constraint {i}: unknown type {got!r} (known: {', '.join(sorted(CHECKS))})"
        _, required, optional = CHECKS[c["type"]]
        for key in required:
            if not isinstance(c.get(key), str) or not c[key]:
                return f"constraint {i} ({c['type']}): needs a non-empty string {key!r}"
        for key in optional:
            if key in c and (not isinstance(c[key], int) or isinstance(c[key], bool)):
                return f"constraint {i} ({c['type']}): {key!r} must be an integer"
        extra = set(c) - {"type", *required, *optional}
        if extra:
            return f"constraint {i} ({c['type']}): unknown fields {sorted(extra)}"
    return None


def satisfied(response: str, constraints: list[dict]) -> list[bool]:
    """One bool per constraint; raises ValueError for a malformed list (see `validate`)."""
    if (why := validate(constraints)) is not None:
        raise ValueError(why)
    return [CHECKS[c["type"]][0](response, c) for c in constraints]
