"""Decontamination: remove training documents that contain evaluation items.

Rule (Tülu 3, used for OLMo 3 post-training data): normalize text (NFKC, lowercase, strip
punctuation, collapse whitespace), take word 8-grams, and call a document contaminated by an
evaluation unit when at least `min_overlap` (50%) of the unit's distinct n-grams occur in it. Each
item gives up to three units: its question, its answer, and question + " " + answer; the last holds
the n-grams that straddle the question/answer boundary, the first two let a document that copies
only the question (or only a long answer) be caught. A unit shorter than n words is not indexed on
its own; an item whose whole text is shorter than n words is matched on its full normalized word
sequence (but never below `min_item_words`, so that a three-word item cannot wipe out every document
that says it).

Speed: the index is a sorted uint64 array plus a bitmap prefilter, built once and cheap to send to
workers. Documents are scanned in batches with numpy: each word's hash is a polynomial hash of its
bytes taken from one prefix-sum over the batch buffer, and each n-gram's hash a polynomial of its
word hashes from a second prefix sum, so no Python code runs per word. `scan_reference` is the
obvious pure-Python version (sets of n-gram strings); tests check both agree and the benchmark
measures one against the other.

Run as a step: `decontaminate(docs, build_index({"gsm8k": items, ...}))`.
"""

from __future__ import annotations

import sys
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.texthash import U64, ngram_hashes, word_hashes

_MAX_BATCH_BYTES = 1 << 20


@lru_cache(maxsize=1)
def _translation_table() -> dict[int, int | None]:
    """Unicode whitespace -> ' ', punctuation (categories P*, plus ASCII symbols) -> deleted.

    Deleting rather than spacing punctuation makes "don't" and "dont" the same word and keeps a
    dropped comma from splitting a word; the same table is applied to items and documents.
    """
    table: dict[int, int | None] = {}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        if ch.isspace():
            table[cp] = 0x20
        elif unicodedata.category(ch).startswith("P"):
            table[cp] = None
    for ch in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~":
        table[ord(ch)] = None
    return table


@lru_cache(maxsize=1)
def _ascii_table() -> dict[int, int | None]:
    return {k: v for k, v in _translation_table().items() if k < 128}


def _prenormalize(text: str) -> str:
    """NFKC, lowercase, punctuation deleted, whitespace made spaces (runs of spaces are left).

    NFKC makes composed and decomposed accents, ligatures and full-width forms one spelling.
    NOTE: str.translate is about five times faster with a table of ASCII keys only, and `isascii`
    is O(1), so ASCII text (most of it) skips NFKC and takes the fast table.
    """
    if text.isascii():
        return text.lower().translate(_ascii_table())
    return unicodedata.normalize("NFKC", text).lower().translate(_translation_table())


def normalize(text: str) -> str:
    """Lowercased text with punctuation removed and every whitespace run made one space."""
    return " ".join(_prenormalize(text).split())


def _text_ngrams(normalized: str, n: int) -> np.ndarray:
    return np.unique(ngram_hashes(word_hashes([normalized]), n)[0])


@dataclass(frozen=True, slots=True)
class Unit:
    """One indexed piece of an evaluation item (question, answer, question+answer, or full text)."""

    benchmark: str
    item_id: str
    part: str
    n_grams: int  # distinct n-grams (or 1 for a short item matched on its whole word sequence)


@dataclass(frozen=True, slots=True)
class DecontamIndex:
    """All evaluation n-grams, as sorted hashes mapping to the units that contain them (CSR)."""

    n: int
    keys: np.ndarray  # sorted unique uint64 n-gram hashes (all lengths: n, and short-item lengths)
    unit_ptr: np.ndarray  # int64, len(keys) + 1: units of keys[k] are unit_ids[unit_ptr[k]:unit_ptr[k+1]]
    unit_ids: np.ndarray  # int64
    units: tuple[Unit, ...]
    short_lengths: tuple[int, ...]  # word counts of short items, matched as exact k-grams
    bitmap: np.ndarray  # bool prefilter over the low bits of a hash
    items: Mapping[str, int]  # benchmark -> number of items given
    skipped: Mapping[str, int]  # benchmark -> items too short (or empty) to match safely

    def lookup(self, hashes: np.ndarray) -> np.ndarray:
        """Positions in `keys` of the hashes that are indexed, -1 for the others."""
        out = np.full(len(hashes), -1, dtype=np.int64)
        cand = np.flatnonzero(self.bitmap[hashes & U64(len(self.bitmap) - 1)])
        if len(cand):
            pos = np.searchsorted(self.keys, hashes[cand])
            pos = np.minimum(pos, len(self.keys) - 1)
            hit = self.keys[pos] == hashes[cand]
            out[cand[hit]] = pos[hit]
        return out


def item_parts(item: Mapping) -> dict[str, str]:
    """The texts of an evaluation item: question/answer (the correct choice for multiple choice)."""
    if "question" in item:
        question = str(item["question"])
        if "choices" in item and "label" in item:
            answer = str(item["choices"][int(item["label"])])
        else:
            answer = str(item.get("answer", ""))
        return {"question": question, "answer": answer}
    if "prompt" in item:
        return {"question": str(item["prompt"]), "answer": str(item.get("answer", ""))}
    return {"text": str(item["text"])}


def _units_of(item: Mapping, n: int, min_item_words: int) -> list[tuple[str, str, int]]:
    """(part name, normalized text, gram length) for each unit the item is indexed under."""
    parts = {k: normalize(v) for k, v in item_parts(item).items()}
    whole = " ".join(v for v in parts.values() if v)
    n_words = len(whole.split())
    if n_words < n:
        return [("full", whole, n_words)] if n_words >= max(1, min_item_words) else []
    units = [("question+answer" if len(parts) > 1 else "text", whole, n)]
    if len(parts) > 1:
        units += [(k, v, n) for k, v in parts.items() if len(v.split()) >= n and v != whole]
    return units


def build_index(
    benchmarks: Mapping[str, Iterable[Mapping]], n: int = 8, min_item_words: int = 3
) -> DecontamIndex:
    """Index every item of every benchmark (items need `id`; see `item_parts` for the text fields)."""
    units: list[Unit] = []
    pairs_h: list[np.ndarray] = []
    pairs_u: list[np.ndarray] = []
    items: dict[str, int] = {}
    skipped: dict[str, int] = {}
    short_lengths: set[int] = set()
    for bench, bench_items in benchmarks.items():
        items[bench] = skipped[bench] = 0
        for i, item in enumerate(bench_items):
            items[bench] += 1
            try:
                found = _units_of(item, n, min_item_words)
            except (KeyError, IndexError, TypeError, ValueError) as e:
                item_id = item.get("id", i)
                raise ValueError(f"benchmark {bench!r} item {item_id!r}: unusable item ({e!r})") from e
            if not found:
                skipped[bench] += 1
            for part, text, k in found:
                grams = _text_ngrams(text, k)
                if k < n:
                    short_lengths.add(k)
                units.append(Unit(bench, str(item.get("id", i)), part, len(grams)))
                pairs_h.append(grams)
                pairs_u.append(np.full(len(grams), len(units) - 1, dtype=np.int64))
    h = np.concatenate(pairs_h) if pairs_h else np.zeros(0, U64)
    u = np.concatenate(pairs_u) if pairs_u else np.zeros(0, np.int64)
    order = np.lexsort((u, h))
    h, u = h[order], u[order]
    keys, first = np.unique(h, return_index=True)
    unit_ptr = np.append(first, len(h)).astype(np.int64)
    # NOTE: ~16 bitmap slots per key make the prefilter pass ~6% of clean n-grams; the cap keeps the
    # bitmap (one byte per slot) at 64 MB for very large evaluation suites.
    bits = min(26, max(16, (16 * max(1, len(keys))).bit_length()))
    bitmap = np.zeros(1 << bits, dtype=bool)
    bitmap[keys & U64((1 << bits) - 1)] = True
    return DecontamIndex(
        n, keys, unit_ptr, u, tuple(units), tuple(sorted(short_lengths)), bitmap, items, skipped
    )


@dataclass(frozen=True, slots=True)
class Match:
    """A document contaminated by one unit: which unit, and the fraction of its n-grams found."""

    unit: Unit
    overlap: float


def scan(texts: Sequence[str], index: DecontamIndex, min_overlap: float = 0.5) -> list[list[Match]]:
    """For each text, the items it is contaminated by, each through its best unit (best first)."""
    out: list[list[Match]] = [[] for _ in texts]
    start = 0
    while start < len(texts):
        # NOTE: batches are cut by size so the prefix-sum buffers stay a few tens of MB.
        stop, size = start, 0
        while stop < len(texts) and (size == 0 or size + len(texts[stop]) <= _MAX_BATCH_BYTES):
            size += len(texts[stop])
            stop += 1
        batch = [_prenormalize(t) for t in texts[start:stop]]
        for i, matches in enumerate(_scan_batch(batch, index, min_overlap)):
            out[start + i] = matches
        start = stop
    return out


def _scan_batch(normalized: list[str], index: DecontamIndex, min_overlap: float) -> list[list[Match]]:
    words = word_hashes(normalized)
    hit_docs: list[np.ndarray] = []
    hit_keys: list[np.ndarray] = []
    for k in (index.n, *index.short_lengths):
        grams, docs = ngram_hashes(words, k)
        pos = index.lookup(grams)
        found = pos >= 0
        hit_docs.append(docs[found])
        hit_keys.append(pos[found])
    results: list[list[Match]] = [[] for _ in normalized]
    docs_all = np.concatenate(hit_docs)
    if not len(docs_all):
        return results
    pairs = np.unique(np.stack([docs_all, np.concatenate(hit_keys)]), axis=1)
    counts: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for doc, key in pairs.T.tolist():
        for unit in index.unit_ids[index.unit_ptr[key] : index.unit_ptr[key + 1]].tolist():
            counts[doc][unit] += 1
    for doc, per_unit in counts.items():
        best: dict[tuple[str, str], Match] = {}  # one match per item: its best unit
        for u, c in per_unit.items():
            unit = index.units[u]
            if c >= min_overlap * unit.n_grams:
                m = Match(unit, c / unit.n_grams)
                key = (unit.benchmark, unit.item_id)
                if key not in best or (m.overlap, m.unit.part) > (best[key].overlap, best[key].unit.part):
                    best[key] = m
        results[doc] = sorted(best.values(), key=lambda m: (-m.overlap, m.unit.benchmark, m.unit.item_id))
    return results


def scan_reference(
    texts: Sequence[str], benchmarks: Mapping[str, Iterable[Mapping]], n: int = 8,
    min_overlap: float = 0.5, min_item_words: int = 3,
) -> list[set[tuple[str, str, str]]]:
    """Slow, obviously correct scan with Python sets of n-gram strings: the test oracle and baseline.

    One dict maps each evaluation n-gram string to its units; each document's n-gram set is
    intersected with it. Returns, per text, the set of (benchmark, item id, part) units it is
    contaminated by.
    """
    grams_to_units: dict[str, list[int]] = defaultdict(list)
    sizes: list[int] = []
    keys: list[tuple[str, str, str]] = []
    lengths: set[int] = set()
    for bench, bench_items in benchmarks.items():
        for i, item in enumerate(bench_items):
            for part, text, k in _units_of(item, n, min_item_words):
                grams = _gram_strings(text.split(), k)
                for g in grams:
                    grams_to_units[g].append(len(keys))
                keys.append((bench, str(item.get("id", i)), part))
                sizes.append(len(grams))
                lengths.add(k)
    out = []
    for text in texts:
        words = normalize(text).split()
        counts: dict[int, int] = defaultdict(int)
        for k in lengths:
            for g in _gram_strings(words, k) & grams_to_units.keys():
                for u in grams_to_units[g]:
                    counts[u] += 1
        out.append({keys[u] for u, c in counts.items() if c >= min_overlap * sizes[u]})
    return out


def _gram_strings(words: list[str], k: int) -> set[str]:
    return {" ".join(words[i : i + k]) for i in range(len(words) - k + 1)}


def decontaminate(
    docs: Iterable[Doc], index: DecontamIndex, min_overlap: float = 0.5, text_field: str = "text"
) -> StepResult:
    """Drop contaminated documents (reason "contamination"); stats["report"] is per benchmark."""
    docs = list(docs)
    from runners.curation.io import text_of

    matches = scan([text_of(d, text_field) for d in docs], index, min_overlap)
    result = StepResult()
    found: dict[str, set[str]] = defaultdict(set)
    removed_per_bench: dict[str, int] = defaultdict(int)
    for doc, doc_matches in zip(docs, matches, strict=True):
        if not doc_matches:
            result.kept.append(doc)
            continue
        best = doc_matches[0]
        detail = (
            f"benchmark={best.unit.benchmark} item={best.unit.item_id} part={best.unit.part} "
            f"overlap={best.overlap:.2f}"
        )
        if len(doc_matches) > 1:
            detail += f" (+{len(doc_matches) - 1} more)"
        result.removed.append(Removed(str(doc["id"]), "contamination", detail))
        for bench in {m.unit.benchmark for m in doc_matches}:
            removed_per_bench[bench] += 1
        for m in doc_matches:
            found[m.unit.benchmark].add(m.unit.item_id)
    result.stats = {
        "documents": len(docs),
        "kept": len(result.kept),
        "removed": result.reason_counts(),
        "report": {
            bench: {
                "items": index.items[bench],
                "items_too_short": index.skipped[bench],
                "items_found": len(found[bench]),
                "documents_removed": removed_per_bench[bench],
            }
            for bench in index.items
        },
        # item ids per benchmark, so that sharded runs can merge "items found" exactly
        "found_items": {bench: sorted(found[bench]) for bench in sorted(found)},
    }
    return result
