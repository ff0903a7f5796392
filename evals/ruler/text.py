"""What RULER's generators share: random values in NVIDIA's formats, sentence splitting, and joining
pieces while recording where each one starts. The essay haystack is a spec source's text, as words
(the eval stage reads it with the other stage inputs).

Values follow NVIDIA/RULER `scripts/data/synthetic/niah.py`: numbers have 7 digits, words are
`adjective-noun` pairs from the wonderwords lists (a PyPI package that ships its word lists), uuids
are version-4 UUIDs. Every draw comes from the `random.Random` passed in, so a sample is a pure
function of its seed.

NOTE: NVIDIA splits essays into sentences with nltk's punkt model, which is a separate download that
does not work offline; `split_sentences` cuts after `.`, `!` or `?` followed by whitespace, which on
plain prose gives the same boundaries for all but abbreviations.
"""

from __future__ import annotations

import random
import re
import uuid
from functools import lru_cache

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@lru_cache(maxsize=1)
def word_lists() -> dict[str, list[str]]:
    """wonderwords' nouns, adjectives and verbs, each sorted (so draws do not depend on set order)."""
    import wonderwords

    cats = wonderwords.RandomWord()._categories  # NOTE: the lists NVIDIA's generators read too
    return {k: sorted(set(cats[k])) for k in ("nouns", "adjectives", "verbs")}


@lru_cache(maxsize=1)
def key_words() -> list[str]:
    w = word_lists()
    return [f"{a}-{n}" for a in w["adjectives"] for n in w["nouns"]]


def random_value(rng: random.Random, kind: str) -> str:
    if kind == "numbers":
        return str(rng.randint(10**6, 10**7 - 1))
    if kind == "words":
        words = key_words()
        return words[rng.randrange(len(words))]
    if kind == "uuids":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    raise ValueError(f"unknown RULER value type {kind!r} (numbers, words, uuids)")


def split_sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def join_tracked(pieces: list[str], sep: str) -> tuple[str, list[int]]:
    """`sep.join(pieces)` and the offset at which each piece starts in it."""
    starts, pos = [], 0
    for p in pieces:
        starts.append(pos)
        pos += len(p) + len(sep)
    return sep.join(pieces), starts
