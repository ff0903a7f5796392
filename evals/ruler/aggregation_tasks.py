"""RULER's variable-tracking and aggregation tasks in NVIDIA's formats (NVIDIA/RULER
`scripts/data/synthetic/{variable_tracking,common_words_extraction,freq_words_extraction}.py`).

- vt: one chain of 4 hops (`VAR ABCDE = 12345`, then `VAR FGHIJ = VAR ABCDE`, ...) hidden in the
  repeated noise sentences; the answer is all 5 variable names. One solved example comes first.
- cwe: a numbered word list in which 10 words appear often (30x, 6x below 4K tokens) and the others
  rarely (3x, 1x below 4K); the answer is the 10 common words. One solved example comes first.
- fwe: coded 6-letter words drawn with Zipf frequencies (alpha = 2) over a vocabulary of length/50
  words; the most frequent is the noise word "...", the answer is ranks 1-3.

`make_*(seed, size, max_length)` builds one sample from `size` units (noise lines, words); the
sizing to the token budget is in `tasks.py`. NOTE: NVIDIA sizes vt's solved example to 500 tokens;
for contexts under 2K tokens that is most of the budget, so it is sized here to a quarter of the
length when that is smaller (the same ratio NVIDIA's has at 2K).
"""

from __future__ import annotations

import math
import random
import string
from functools import lru_cache

from evals.ruler.niah import NOISE
from evals.ruler.text import word_lists

VT_TEMPLATE = (
    "Memorize and track the chain(s) of variable assignment hidden in the following text.\n\n{context}\n"
    "Question: Find all variables that are assigned the value {query} in the text above."
    " Answer: According to the chain(s) of variable assignment in the text above, {num_v} variables are "
    "assgined the value {query}, they are: "  # NOTE: NVIDIA's spelling, kept so prompts match
)
CWE_TEMPLATE = (
    "Below is a numbered list of words. In these words, some appear more often than others. "
    "Memorize the ones that appear most often.\n{context}\n"
    "Question: What are the 10 most common words in the above list?"
    " Answer: The top 10 words that appear most often in the list are:"
)
FWE_TEMPLATE = (
    "Read the following coded text and track the frequency of each coded word. Find the three most "
    "frequently appeared coded words. {context}\nQuestion: Do not provide any explanation. Please ignore "
    "the dots '....'. What are the three most frequently appeared words in the above coded text?"
    " Answer: According to the coded text above, the three most frequently appeared words are:"
)
NUM_HOPS = 4


def _vt_body(rng: random.Random, size: int) -> tuple[str, list[str], list[int]]:
    names: list[str] = []
    while len(names) < NUM_HOPS + 1:
        name = "".join(rng.choices(string.ascii_uppercase, k=5))
        if name not in names:
            names.append(name)
    value = rng.randint(10000, 99999)
    chain = [f"VAR {names[0]} = {value}"] + [f"VAR {names[j + 1]} = VAR {names[j]} " for j in range(NUM_HOPS)]
    lines = [NOISE + "\n"] * size
    slots = sorted(rng.sample(range(size + 1), len(chain))) if size + 1 >= len(chain) else list(range(len(chain)))
    for j, s in enumerate(slots):
        lines.insert(s + j, chain[j])
    context = " ".join(lines).replace(". \n", ".\n")
    text = VT_TEMPLATE.format(context=context, query=value, num_v=NUM_HOPS + 1)
    return text, names, [context.index(c) for c in chain]


def make_vt(seed: str, size: int, example_size: int) -> dict:
    rng = random.Random(seed)
    ex_text, ex_names, _ = _vt_body(rng, example_size)
    text, names, offsets = _vt_body(rng, size)
    example = ex_text + " " + " ".join(ex_names) + "\n\n"
    head = example + VT_TEMPLATE.split("{context}")[0]
    return {"input": example + text, "outputs": names, "haystack_units": size,
            "needles": [{"offset": len(head) + o} for o in offsets]}


@lru_cache(maxsize=1)
def cwe_words() -> list[str]:
    w = word_lists()
    words = sorted(set(w["nouns"] + w["adjectives"] + w["verbs"]))
    random.Random(42).shuffle(words)  # NOTE: NVIDIA shuffles the list once with seed 42
    return words


def _cwe_list(rng: random.Random, n_words: int, common: int, rare: int) -> tuple[str, list[str]]:
    words = rng.sample(cwe_words(), n_words)
    top = words[:10]
    listed = top * common + words[10:] * rare
    rng.shuffle(listed)
    return " ".join(f"{i + 1}. {w}" for i, w in enumerate(listed)), top


def make_cwe(seed: str, size: int, max_length: int) -> dict:
    rng = random.Random(seed)
    if max_length < 4096:
        (ex, ex_top), (ctx, top) = _cwe_list(rng, 20, 3, 1), _cwe_list(rng, max(size, 10), 6, 1)
    else:
        (ex, ex_top), (ctx, top) = _cwe_list(rng, 40, 10, 3), _cwe_list(rng, max(size, 10), 30, 3)
    example = CWE_TEMPLATE.format(context=ex) + " " + " ".join(f"{i + 1}. {w}" for i, w in enumerate(ex_top))
    return {"input": example + "\n" + CWE_TEMPLATE.format(context=ctx), "outputs": top, "haystack_units": size}


def make_fwe(seed: str, size: int, max_length: int, alpha: float = 2.0) -> dict:
    rng = random.Random(seed)
    vocab_size = max(max_length // 50, 4)
    vocab: set[str] = set()
    while len(vocab) < vocab_size:
        vocab.add("".join(rng.choices(string.ascii_lowercase, k=6)))
    words = sorted(vocab)
    rng.shuffle(words)
    words[0] = "..."  # NOTE: the most frequent rank is noise, as in NVIDIA's
    zeta = sum(k ** -alpha for k in range(1, 100000)) if alpha != 2.0 else math.pi**2 / 6
    counts = [int(size * (k ** -alpha) / zeta) for k in range(1, len(words) + 1)]
    seq = [w for w, c in zip(words, counts, strict=True) for _ in range(c)]
    rng.shuffle(seq)
    return {"input": FWE_TEMPLATE.format(context=" ".join(seq)), "outputs": words[1:4], "haystack_units": size}
