"""Fill-in-the-middle (FIM) rewriting of code documents, as in StarCoder and OLMo 3's Stack-Edu FIM.

A fraction `rate` of documents is cut at two points into prefix / middle / suffix, for the model to
learn infilling. The tokenize step writes such a document as

    PSM: <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|> middle
    SPM: <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|> middle   (dolma's "SUF s PRE p MID m")

with the tokenizer's special sentinel ids, a fraction `spm_rate` of the transformed ones in SPM
order. The rewrite is kept as structure, not as text: the document's `text` is unchanged and a field
`fim = {"order": "psm"|"spm", "cuts": [i, j]}` says prefix = text[:i], middle = text[i:j],
suffix = text[j:] (code-point offsets). So a sentinel string that a source file merely contains (a
tokenizer's own test data, say) stays text: the tokenize step encodes every piece as text and adds
the sentinel ids itself, and only there (docs/CONTRACTS.md).

Cuts are on characters (code points), so multibyte UTF-8 is never split; both cut points are drawn
uniformly from 1..len-1, so the prefix and the suffix are never empty (the middle may be). Every
random choice comes from a generator seeded by a hash of (seed, document id), so the output does not
depend on document order or worker count. `render` shows a rewritten document with sentinel strings.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runners.curation.base import Doc, StepResult, doc_seed

ORDERS = ("psm", "spm")


@dataclass(frozen=True, slots=True)
class Sentinels:
    """The three sentinel strings; the tokenizer knows them as special tokens."""

    prefix: str = "<|fim_prefix|>"
    middle: str = "<|fim_middle|>"
    suffix: str = "<|fim_suffix|>"


def doc_rng(seed: int, doc_id: str) -> random.Random:
    """A generator that depends only on (seed, document id): stable across runs and workers."""
    return random.Random(doc_seed(seed, doc_id, "fim"))


def split_points(text: str, rng: random.Random) -> tuple[int, int]:
    """Two sorted cut points drawn uniformly (with replacement) from 1..len(text)-1."""
    a, b = rng.randint(1, len(text) - 1), rng.randint(1, len(text) - 1)
    return min(a, b), max(a, b)


def fim_parts(doc: Doc, text_field: str = "text") -> tuple[str, str, str, str] | None:
    """(order, prefix, middle, suffix) of a FIM document, None for a plain one; a malformed `fim`
    field is a ValueError naming the document."""
    fim: Any = doc.get("fim")
    if fim is None:
        return None
    text = doc[text_field]
    ok = isinstance(fim, dict) and fim.get("order") in ORDERS and isinstance(fim.get("cuts"), list) \
        and len(fim["cuts"]) == 2 and all(isinstance(c, int) for c in fim["cuts"])
    if not ok or not 0 <= fim["cuts"][0] <= fim["cuts"][1] <= len(text):
        raise ValueError(f"document {doc.get('id')!r}: field 'fim' must be {{\"order\": \"psm\"|\"spm\", "
                         f"\"cuts\": [i, j]}} with 0 <= i <= j <= len(text) (got {fim!r}); a step that "
                         "rewrites the text must run before fim")
    i, j = fim["cuts"]
    return fim["order"], text[:i], text[i:j], text[j:]


def render(doc: Doc, s: Sentinels = Sentinels(), text_field: str = "text") -> str:
    """The document as the model sees it, with sentinel strings in place of the sentinel ids."""
    parts = fim_parts(doc, text_field)
    if parts is None:
        return doc[text_field]
    order, prefix, middle, suffix = parts
    if order == "spm":
        return f"{s.suffix}{suffix}{s.prefix}{prefix}{s.middle}{middle}"
    return f"{s.prefix}{prefix}{s.suffix}{suffix}{s.middle}{middle}"


def apply_fim(
    docs: Iterable[Doc],
    rate: float = 0.5,
    spm_rate: float = 0.5,
    seed: int = 0,
    min_chars: int = 2,
    text_field: str = "text",
) -> StepResult:
    """Mark a seeded fraction of documents for FIM (field `fim`); every document is kept.

    Documents shorter than `min_chars` (at least 2, so that 1..len-1 is not empty) stay plain.
    """
    min_chars = max(2, min_chars)
    result = StepResult()
    counts = {"psm": 0, "spm": 0, "unchanged": 0, "too_short": 0}
    for doc in docs:
        text = doc[text_field]
        if not isinstance(text, str):
            # NOTE: ValueError, not TypeError: bad data, which the runners report without a traceback
            raise ValueError(f"document {doc.get('id')!r}: fim cuts '{text_field}', which is not a string")  # noqa: TRY004
        rng = doc_rng(seed, str(doc["id"]))
        # NOTE: the draws happen in a fixed order whatever the document, so a document's choice does
        # not depend on its length or on the rate of any other decision.
        transform, spm = rng.random() < rate, rng.random() < spm_rate
        if not transform:
            counts["unchanged"] += 1
        elif len(text) < min_chars:
            counts["too_short"] += 1
        else:
            order = "spm" if spm else "psm"
            counts[order] += 1
            result.kept.append({**doc, "fim": {"order": order, "cuts": list(split_points(text, rng))}})
            continue
        result.kept.append(doc)
    result.stats = {"documents": sum(counts.values()), **counts}
    return result
