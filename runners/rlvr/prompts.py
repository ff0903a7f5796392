"""RL prompts: records read from the stage's input, checked, rendered, and drawn in a seeded order.

A record (docs/CONTRACTS.md) is `{"id", "prompt", "verifier": "math"|"ifeval"|"code", ...}` with
its ground truth: `answer` (math), `constraints` (ifeval), `tests` (code). A record whose verifier
the stage does not use is skipped (counted); one whose ground truth cannot be scored is rejected
with its file, line and reason into `rejects.jsonl`, never scored 0 forever.

`PromptPool` yields prompts in an order drawn per epoch from (seed, epoch), skips retired ones
(solved above the stage's pass rate), and saves its position so a resumed run continues exactly.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from olmospec.ir.rlvr import VERIFIERS
from runners.rlvr import ifeval
from runners.train.errors import StageError


def problem(rec: dict[str, Any]) -> str | None:
    """Why this record cannot be scored by its verifier, or None."""
    v = rec.get("verifier")
    if not isinstance(rec.get("prompt"), str) or not rec["prompt"].strip():
        return "prompt must be a non-empty string"
    if v == "math":
        return None if isinstance(rec.get("answer"), str | int | float) and str(rec["answer"]).strip() \
            else "math record needs an `answer`"
    if v == "ifeval":
        return ifeval.validate(rec.get("constraints"))
    if v == "code":
        t = rec.get("tests")
        ok = isinstance(t, str) and t.strip() or isinstance(t, list) and t and all(isinstance(x, str) for x in t)
        return None if ok else "code record needs `tests` (Python source that asserts, or a list of them)"
    return f"unknown verifier {v!r} (expected one of {', '.join(VERIFIERS)})"


def _prompt_field(cfg: dict) -> dict:
    """The input with `prompt` as the text field of every part (RL records keep their prompt there,
    whether read from a source or from a curation's output)."""
    if cfg.get("kind") == "union":
        return {**cfg, "parts": [_prompt_field(p) for p in cfg["parts"]]}
    return {**cfg, "text": "prompt"}


def load_prompts(input_cfg: dict, rewards: tuple[str, ...]) -> tuple[list[dict], list[dict], Counter]:
    """(usable records, rejects with reasons, counts of records skipped by verifier)."""
    from runners.inputs import read_all

    docs, bad = read_all(_prompt_field(input_cfg))
    rejects = [r.to_json() for r in bad]
    wanted = [r for r in rewards if r in VERIFIERS] or list(VERIFIERS)  # controls score every domain
    usable, skipped = [], Counter()
    for d in docs:
        why = problem(d)
        if why is not None:
            rejects.append({"id": d.get("id"), "reason": why})
        elif d["verifier"] in wanted:
            usable.append(d)
        else:
            skipped[d["verifier"]] += 1
    if not usable:
        raise StageError(f"no usable RL prompts for rewards {list(rewards)} in {input_cfg.get('path')} "
                         f"({len(rejects)} rejected, skipped {dict(skipped)})")
    return usable, rejects, skipped


def render(rec: dict, template: str) -> Any:
    """The model's input: a chat turn, or RL-Zero's plain template for a base model."""
    if template == "answer":
        return f"Question: {rec['prompt']}\nAnswer:"
    return [{"role": "user", "content": rec["prompt"]}]


class PromptPool:
    def __init__(self, n: int, seed: int):
        self.n, self.seed = n, seed
        self.epoch, self.cursor = 0, 0
        self.retired: set[int] = set()
        self._order = self._perm(0)

    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, 17, epoch]).permutation(self.n)

    def take(self, k: int) -> list[int]:
        if len(self.retired) >= self.n:
            raise StageError(f"every one of the {self.n} prompts is retired (solved); nothing left to learn from")
        out: list[int] = []
        while len(out) < k:
            if self.cursor >= self.n:
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._perm(self.epoch)
            i = int(self._order[self.cursor])
            self.cursor += 1
            if i not in self.retired:
                out.append(i)
            if len(self.retired) >= self.n:
                break
        return out

    def retire(self, i: int) -> None:
        self.retired.add(i)

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor, "retired": sorted(self.retired)}

    def load_state_dict(self, s: dict) -> None:
        self.epoch, self.cursor, self.retired = s["epoch"], s["cursor"], set(s["retired"])
        self._order = self._perm(self.epoch)
