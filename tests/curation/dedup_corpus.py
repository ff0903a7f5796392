"""A real-text corpus with planted near-duplicates, and brute-force ground truth, for dedup tests.

Documents are paragraphs (>= 20 words) of the machine's own text: Debian copyright files (which
are full of natural near-duplicates: the same licence paragraph with another name), package
descriptions, licence texts and Python standard-library docstrings. Nothing is downloaded.

`planted()` adds mutated copies (words replaced, deleted or inserted at a seeded rate) whose
Jaccard similarity to the original spreads across 0.5-1.0, so the 0.8 threshold is exercised from
both sides. `similar_pairs()` is the ground truth: every pair with exact Jaccard >= t on the very
shingles MinHash uses, found with prefix filtering (exact, no false negatives).
"""

from __future__ import annotations

import math
import random
import re
import sys
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

STDLIB = Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text)]


@lru_cache(maxsize=1)
def real_documents(min_words: int = 20) -> tuple[str, ...]:
    """Unique real paragraphs, in a fixed order (about 7,000)."""
    texts: list[str] = []
    for f in sorted(Path("/usr/share/doc").glob("*/copyright")):
        texts.extend(_paragraphs(f.read_text(errors="replace")))
    status = Path("/var/lib/dpkg/status").read_text(errors="replace")
    for block in re.findall(r"^Description: (.*\n(?: .*\n)*)", status, re.MULTILINE):
        texts.append(" ".join(line.strip() for line in block.splitlines() if line.strip() != "."))
    for f in sorted(Path("/usr/share/common-licenses").glob("*")):
        if f.is_file():
            texts.extend(_paragraphs(f.read_text(errors="replace")))
    for f in sorted(STDLIB.glob("*.py")):
        for doc in re.findall(r'"""(.*?)"""', f.read_text(errors="replace"), re.DOTALL):
            texts.extend(_paragraphs(doc))
    return tuple(dict.fromkeys(t for t in texts if len(t.split()) >= min_words))


def mutate(text: str, rate: float, rng: random.Random, vocab: list[str]) -> str:
    """Each word is replaced, deleted, or followed by an inserted word with probability `rate`."""
    out: list[str] = []
    for w in text.split(" "):
        r = rng.random()
        if r < rate / 3:
            out.append(rng.choice(vocab))
        elif r < 2 * rate / 3:
            continue
        elif r < rate:
            out.extend([w, rng.choice(vocab)])
        else:
            out.append(w)
    return " ".join(out)


@lru_cache(maxsize=1)
def planted(n_plants: int = 800, seed: int = 0) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Real documents followed by `n_plants` mutants; returns (texts, index of each mutant's original)."""
    docs = list(real_documents())
    rng = random.Random(seed)
    vocab = sorted({w for t in docs[:2000] for w in t.split()})
    sources = [i for i, t in enumerate(docs) if len(t.split()) >= 40]
    origin: list[int] = []
    for _ in range(n_plants):
        src = rng.choice(sources)
        docs.append(mutate(docs[src], rng.choice([0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12]), rng, vocab))
        origin.append(src)
    return tuple(docs), tuple(origin)


def similar_pairs(shingles: list[np.ndarray], threshold: float) -> dict[tuple[int, int], float]:
    """All pairs (i < j) with exact Jaccard >= threshold, by prefix filtering.

    Order every set's elements by global frequency (rarest first); two sets with J >= t share an
    element among the first |A| - ceil(t|A|) + 1 of A's and the same prefix of B's. Candidates from
    an inverted index over prefixes are then checked exactly.
    """
    sets = [set(s.tolist()) for s in shingles]
    freq = Counter(x for s in sets for x in s)
    index: dict[int, list[int]] = defaultdict(list)
    pairs: dict[tuple[int, int], float] = {}
    for i, s in enumerate(sets):
        if not s:
            continue
        ordered = sorted(s, key=lambda x: (freq[x], x))
        prefix = ordered[: len(s) - math.ceil(threshold * len(s) - 1e-9) + 1]
        candidates = {j for x in prefix for j in index[x]}
        for j in candidates:
            inter = len(s & sets[j])
            jac = inter / (len(s) + len(sets[j]) - inter)
            if jac >= threshold:
                pairs[(j, i)] = jac
        for x in prefix:
            index[x].append(i)
    return pairs
