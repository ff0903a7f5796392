"""RULER's needle-in-a-haystack tasks, in NVIDIA's formats (NVIDIA/RULER `scripts/data/synthetic/niah.py`
and `scripts/synthetic.yaml`).

A needle is "One of the special magic {values} for {key} is: {value}."; needles go at depths drawn
from 40 equally spaced points between 0% and 100% of the haystack (on sentence boundaries for essay
haystacks, between lines for the others). Haystacks: `repeat` (the noise sentences, repeated),
`essay` (real prose: here the repository's haystack file, where NVIDIA uses Paul Graham's essays)
and `needle` (distractor needles with random keys). `make(size)` builds one sample from `size`
haystack units (words for essays, lines otherwise); `tasks.py` sizes it to the token budget.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from evals.ruler.text import join_tracked, random_value, split_sentences

NEEDLE = "One of the special magic {type_needle_v} for {key} is: {value}."
NOISE = "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again."
DEPTHS = [int(d) for d in np.round(np.linspace(0, 100, num=40, endpoint=True))]
TEMPLATE = (
    "Some special magic {type_needle_v} are hidden within the following text. Make sure to memorize it. "
    "I will quiz you about the {type_needle_v} afterwards.\n{context}\n"
    "What are all the special magic {type_needle_v} for {query} mentioned in the provided text?"
)
ANSWER_PREFIX = " The special magic {type_needle_v} for {query} mentioned in the provided text are"


@dataclass(frozen=True)
class Niah:
    haystack: str  # repeat | essay | needle
    type_k: str
    type_v: str
    num_k: int = 1
    num_v: int = 1
    num_q: int = 1
    tokens_to_generate: int = 128
    metric: str = "string_match_all"


TASKS = {
    "niah_single_1": Niah("repeat", "words", "numbers"),
    "niah_single_2": Niah("essay", "words", "numbers"),
    "niah_single_3": Niah("essay", "words", "uuids"),
    "niah_multikey_1": Niah("essay", "words", "numbers", num_k=4),
    "niah_multikey_2": Niah("needle", "words", "numbers"),
    "niah_multikey_3": Niah("needle", "uuids", "uuids"),
    "niah_multivalue": Niah("essay", "words", "numbers", num_v=4),
    "niah_multiquery": Niah("essay", "words", "numbers", num_q=4),
}


def _template(cfg: Niah) -> tuple[str, str]:
    """(template, value type) with NVIDIA's singular rewrite when one value is asked for."""
    template, type_v = TEMPLATE + ANSWER_PREFIX, cfg.type_v
    if cfg.num_q * cfg.num_v == 1:
        for old, new in (("Some", "A"), ("are all", "is"), ("are", "is"), ("answers", "answer")):
            template = template.replace(old, new)
        type_v = type_v[:-1]
    return template, type_v


def make(cfg: Niah, seed: str, size: int, essay: list[str]) -> dict:
    """One sample from `size` haystack units; the same (seed, size) always gives the same sample."""
    rng = random.Random(seed)
    num_k = max(cfg.num_k, cfg.num_q)
    keys, values, needles = [], [], []
    for _ in range(num_k):
        keys.append(random_value(rng, cfg.type_k))
        values.append([random_value(rng, cfg.type_v) for _ in range(cfg.num_v)])
        needles += [NEEDLE.format(type_needle_v=cfg.type_v, key=keys[-1], value=v) for v in values[-1]]
    rng.shuffle(needles)
    if cfg.haystack == "essay":
        sents = split_sentences(" ".join(essay[:size]))
        depths = sorted(rng.sample(DEPTHS, len(needles)))
        cuts = [0] + [int(len(sents) * d / 100) for d in depths] + [len(sents)]
        units, after = len(sents), cuts[1:-1]
        pieces, needle_at = [], []
        for i in range(1, len(cuts)):
            pieces.append(" ".join(sents[cuts[i - 1] : cuts[i]]))
            if i - 1 < len(needles):
                needle_at.append(len(pieces))
                pieces.append(needles[i - 1])
        context, starts = join_tracked(pieces, " ")
    else:
        if cfg.haystack == "repeat":
            lines = [NOISE] * size
        else:
            lines = [NEEDLE.format(type_needle_v=cfg.type_v, key=random_value(rng, cfg.type_k),
                                   value=random_value(rng, cfg.type_v)) for _ in range(size)]
        slots = sorted(rng.sample(range(size + 1), len(needles)))
        depths = [round(100 * s / max(size, 1)) for s in slots]
        units, after = size, slots
        pieces, needle_at, k = [], [], 0
        for i in range(size + 1):
            while k < len(needles) and slots[k] == i:
                needle_at.append(len(pieces))
                pieces.append(needles[k])
                k += 1
            if i < size:
                pieces.append(lines[i])
        context, starts = join_tracked(pieces, "\n")
    asked = sorted(rng.sample(range(num_k), cfg.num_q))
    queries = [keys[i] for i in asked]
    answers = [v for i in asked for v in values[i]]
    query = ", ".join(queries[:-1]) + ", and " + queries[-1] if len(queries) > 1 else queries[0]
    template, type_v = _template(cfg)
    head = template.split("{context}")[0].format(type_needle_v=type_v)
    text = template.format(type_needle_v=type_v, context=context, query=query)
    # where each needle went: its character offset in the prompt, its depth (%), and how many haystack
    # units (sentences of the essay, or lines) come before it
    positions = [{"needle": pieces[j], "offset": len(head) + starts[j], "depth": d, "after_units": a,
                  "units": units} for j, d, a in zip(needle_at, depths, after, strict=True)]
    return {"input": text, "outputs": answers, "needles": positions, "haystack_units": size}
