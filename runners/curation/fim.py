"""Fill-in-the-middle (FIM) rewriting of code documents, as in StarCoder and OLMo 3's Stack-Edu FIM.

A fraction `rate` of documents is cut at two points into prefix / middle / suffix and rewritten with
sentinel strings so the model learns to infill:

    PSM: <|fim_prefix|>prefix<|fim_suffix|>suffix<|fim_middle|>middle
    SPM: <|fim_suffix|>suffix<|fim_prefix|>prefix<|fim_middle|>middle   (dolma's "SUF s PRE p MID m")

a fraction `spm_rate` of the transformed ones in SPM order. Cuts are on characters (code points), so
multibyte UTF-8 is never split; both cut points are drawn uniformly from 1..len-1, so the prefix and
the suffix are never empty (the middle may be). Every random choice comes from a generator seeded by
a hash of (seed, document id), so the output does not depend on document order or worker count.

A document that already contains a sentinel string is left unchanged (counted in stats), because its
rewrite could not be inverted unambiguously. `invert` turns a rewritten text back into its three parts.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from runners.curation.base import Doc, StepResult, doc_seed


@dataclass(frozen=True, slots=True)
class Sentinels:
    """The three sentinel strings; the tokenizer must know them as special tokens."""

    prefix: str = "<|fim_prefix|>"
    middle: str = "<|fim_middle|>"
    suffix: str = "<|fim_suffix|>"

    def all(self) -> tuple[str, str, str]:
        return (self.prefix, self.middle, self.suffix)


def doc_rng(seed: int, doc_id: str) -> random.Random:
    """A generator that depends only on (seed, document id): stable across runs and workers."""
    return random.Random(doc_seed(seed, doc_id, "fim"))


def split_points(text: str, rng: random.Random) -> tuple[int, int]:
    """Two sorted cut points drawn uniformly (with replacement) from 1..len(text)-1."""
    a, b = rng.randint(1, len(text) - 1), rng.randint(1, len(text) - 1)
    return min(a, b), max(a, b)


def format_fim(prefix: str, middle: str, suffix: str, spm: bool, s: Sentinels = Sentinels()) -> str:
    if spm:
        return f"{s.suffix}{suffix}{s.prefix}{prefix}{s.middle}{middle}"
    return f"{s.prefix}{prefix}{s.suffix}{suffix}{s.middle}{middle}"


def invert(text: str, s: Sentinels = Sentinels()) -> tuple[str, str, str]:
    """(prefix, middle, suffix) of a FIM-rewritten text, in either order; ValueError if it is not one."""
    if text.startswith(s.prefix):
        body = text[len(s.prefix) :]
        prefix, sep, rest = body.partition(s.suffix)
        suffix, sep2, middle = rest.partition(s.middle)
    elif text.startswith(s.suffix):
        body = text[len(s.suffix) :]
        suffix, sep, rest = body.partition(s.prefix)
        prefix, sep2, middle = rest.partition(s.middle)
    else:
        raise ValueError("text does not start with a FIM prefix or suffix sentinel")
    if not (sep and sep2):
        raise ValueError("text is missing a FIM sentinel")
    return prefix, middle, suffix


def apply_fim(
    docs: Iterable[Doc],
    rate: float = 0.5,
    spm_rate: float = 0.5,
    seed: int = 0,
    sentinels: Sentinels = Sentinels(),
    min_chars: int = 2,
    text_field: str = "text",
) -> StepResult:
    """Rewrite a seeded fraction of documents in FIM form; every document is kept.

    A rewritten document gets `fim: "psm" | "spm"`; unchanged ones are passed through as they are.
    Documents shorter than `min_chars` (at least 2, so that 1..len-1 is not empty) are unchanged.
    """
    min_chars = max(2, min_chars)
    result = StepResult()
    counts = {"psm": 0, "spm": 0, "unchanged": 0, "too_short": 0, "contains_sentinel": 0}
    for doc in docs:
        text = doc[text_field]
        rng = doc_rng(seed, str(doc["id"]))
        # NOTE: the draws happen in a fixed order whatever the document, so a document's choice does
        # not depend on its length or on the rate of any other decision.
        transform, spm, (i, j) = rng.random() < rate, rng.random() < spm_rate, (0, 0)
        if transform and len(text) >= min_chars:
            i, j = split_points(text, rng)
        if not transform:
            counts["unchanged"] += 1
        elif len(text) < min_chars:
            counts["too_short"] += 1
        elif any(x in text for x in sentinels.all()):
            counts["contains_sentinel"] += 1
        else:
            parts = (text[:i], text[i:j], text[j:])
            rewritten = format_fim(*parts, spm=spm, s=sentinels)
            if invert(rewritten, sentinels) != parts:  # custom sentinels that overlap each other
                counts["contains_sentinel"] += 1
            else:
                kind = "spm" if spm else "psm"
                counts[kind] += 1
                result.kept.append({**doc, text_field: rewritten, "fim": kind})
                continue
        result.kept.append(doc)
    result.stats = {"documents": sum(counts.values()), **counts}
    return result
