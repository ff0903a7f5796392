"""RULER's task registry and the sizing of samples to a context length under the model's tokenizer.

RULER sizes each sample so that prompt tokens + the task's generation budget fit the requested
length (NVIDIA/RULER `scripts/data/synthetic/*.py` grow the haystack until it no longer fits). Here
the haystack size is found by binary search on the first sample of a (task, length) and checked on
every other one (a sample whose random keys tokenize longer is shrunk until it fits), so every
sample fits its budget exactly as counted by the tokenizer, special tokens included.

Samples are a pure function of (seed, task, length, index): NVIDIA's seed is 42, and the data does
not depend on the model being evaluated, so every stage and variant is scored on the same samples.

    from evals.ruler.tasks import generate
    samples = generate("niah_single_2", 1024, count_tokens, haystack_words, n=20)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from evals.ruler import aggregation_tasks as agg
from evals.ruler import niah

RULER_SEED = 42
TASK_NAMES = (*niah.TASKS, "vt", "cwe", "fwe")
GEN_TOKENS = {**{k: v.tokens_to_generate for k, v in niah.TASKS.items()}, "vt": 30, "cwe": 120, "fwe": 50}
METRIC = {name: "string_match_all" for name in TASK_NAMES}  # qa (string_match_part) needs QA data


def essay_tasks(names: list[str]) -> list[str]:
    """The tasks among `names` whose haystack is real prose (they need a haystack source)."""
    return [n for n in names if n in niah.TASKS and niah.TASKS[n].haystack == "essay"]


class RulerSizeError(ValueError):
    """A task that cannot fit a length at all (its template and answer budget alone are too long)."""


@dataclass
class _Maker:
    task: str
    max_length: int
    essay: list[str]
    count: Callable[[str], int]
    example_size: int = 0

    def __call__(self, seed: str, size: int) -> dict:
        if self.task in niah.TASKS:
            return niah.make(niah.TASKS[self.task], seed, size, self.essay)
        if self.task == "vt":
            return agg.make_vt(seed, size, self.example_size)
        if self.task == "cwe":
            return agg.make_cwe(seed, size, self.max_length)
        return agg.make_fwe(seed, size, self.max_length)

    def bounds(self) -> tuple[int, int]:
        if self.task in niah.TASKS and niah.TASKS[self.task].haystack == "essay":
            return 1, len(self.essay)
        if self.task == "cwe":
            return 10, len(agg.cwe_words())
        return 1, 2 * self.max_length


def _largest(fits: Callable[[int], bool], lo: int, hi: int) -> int | None:
    """The largest size in [lo, hi] that fits, assuming fitting is monotone; None when lo does not.

    The search gallops up from `lo` (lo, 2 lo, 4 lo, ...) before it bisects: an essay haystack's upper
    bound is the whole essay text, so plain bisection would tokenize texts hundreds of times the
    length asked for; galloping never counts a text longer than twice the answer."""
    if not fits(lo):
        return None
    step = 1
    while lo + step <= hi and fits(lo + step):
        lo += step
        step *= 2
    hi = min(hi, lo + step - 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _vt_example_size(count: Callable[[str], int], max_length: int) -> int:
    budget = min(500, max_length // 4)

    def fits(size: int) -> bool:
        s = agg.make_vt("vt-example", size, 0)
        ex = s["input"].split("\n\n", 1)[1] + " " + " ".join(s["outputs"])
        return count(ex) + GEN_TOKENS["vt"] <= budget

    return _largest(fits, 1, max_length) or 1


def generate(task: str, max_length: int, count: Callable[[str], int], essay: list[str], n: int,
             seed: int = RULER_SEED) -> list[dict]:
    """`n` samples of `task` whose prompt plus generation budget fit `max_length` tokens of `count`."""
    if task not in TASK_NAMES:
        raise ValueError(f"unknown RULER task {task!r}; known: {', '.join(TASK_NAMES)}")
    gen = GEN_TOKENS[task]
    maker = _Maker(task, max_length, essay, count)
    if task == "vt":
        maker.example_size = _vt_example_size(count, max_length)
    lo, hi = maker.bounds()
    out: list[dict] = []
    size: int | None = None
    for index in range(n):
        sid = f"{seed}/{task}/{max_length}/{index}"

        def fits(s: int, sid: str = sid) -> bool:
            return count(maker(sid, s)["input"]) + gen <= max_length

        if size is None or not fits(size):
            size = _largest(fits, lo, hi if size is None else size)
            if size is None:
                need = count(maker(sid, lo)["input"]) + gen
                raise RulerSizeError(
                    f"RULER task {task} cannot fit {max_length} tokens: its smallest sample needs {need} "
                    f"(prompt + {gen} generated tokens); ask for a longer length")
        sample = maker(sid, size)
        prompt_tokens = count(sample["input"])
        out.append({"id": f"{task}-{max_length}-{index}", "task": task, "max_length": max_length,
                    "index": index, "length": prompt_tokens + gen, "tokens_to_generate": gen,
                    "metric": METRIC[task], **sample})
    return out
