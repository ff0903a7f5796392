"""Active sampling: every step's batch is full of groups that carry a learning signal.

A group is the G completions of one prompt. When all of its rewards are equal its advantages are
all zero: it adds no gradient, only tokens to the denominator. With `active` on, such groups are
dropped and the batch is refilled with new prompts (one more generate call for the missing ones)
until it is full or `max_refills` rounds are spent; a refill asks for as many prompts as the
step's keep rate so far predicts are needed (at most one batch), so a weak model costs a few large
generate calls rather than many small ones. Prompts whose pass rate is above
`retire_above` are retired from the pool (OLMo 3 RL-Zero: 0.875), whether or not their group is kept.
With `active` off, every sampled group is kept as it is (OLMo 2 style), zero-advantage ones included.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from runners.rlvr.prompts import PromptPool


@dataclass
class Group:
    prompt: int  # index into the stage's prompt list
    prompt_ids: list[int]
    completions: list  # runners.generate Completion objects (token_ids, logprobs, text, finish_reason)
    rewards: list[float]
    kind: str  # the reward that scored it

    @property
    def informative(self) -> bool:
        return max(self.rewards) != min(self.rewards)

    @property
    def pass_rate(self) -> float:
        return sum(r >= 1.0 for r in self.rewards) / len(self.rewards)


@dataclass
class Filled:
    groups: list[Group]
    sampled: list[Group] = field(default_factory=list)  # every group generated this step
    dropped: int = 0
    refills: int = 0
    retired: int = 0
    surplus: int = 0  # informative groups beyond a full batch (a refill's overshoot), not trained on

    @property
    def dropped_frac(self) -> float:
        return self.dropped / max(1, len(self.sampled))


def fill_batch(pool: PromptPool, sample: Callable[[list[int], int], list[Group]], want: int, *,
               active: bool, max_refills: int, retire_above: float | None) -> Filled:
    """Sample groups for `want` prompts; refill while active sampling drops uninformative ones."""
    out = Filled(groups=[])
    for attempt in range(max_refills + 1 if active else 1):
        need = want - len(out.groups)
        if need <= 0:
            break
        ask = need
        if attempt:
            out.refills += 1
            # NOTE: ask for as many prompts as this step's keep rate says will fill the batch (at most
            # one batch per round): fewer, larger generate calls; surplus groups are dropped below
            kept = max(len(out.groups), 1) / len(out.sampled)
            ask = min(want, math.ceil(need / kept))
        for g in sample(pool.take(ask), attempt):
            out.sampled.append(g)
            if retire_above is not None and g.pass_rate > retire_above:
                pool.retire(g.prompt)
                out.retired += 1
            if active and not g.informative:
                out.dropped += 1
                continue
            if len(out.groups) < want:
                out.groups.append(g)
            else:
                out.surplus += 1
    return out
