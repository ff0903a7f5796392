"""RLVR: reinforcement learning with verifiable rewards (GRPO as in OLMo 3's OlmoRL).

    python -m runners.rlvr --config stages/<id>.json

Modules, one concept each: `verifiers` (the reward functions, shared with the evaluations and the
DPO pair filter), `answers` (final-answer extraction), `mathcheck` (symbolic equivalence under an
external timeout), `ifeval` (instruction constraints), `sandbox` (model-written code in a
namespace + seccomp jail), `loss` (`grpo_loss` and advantages), `sampling` (active sampling).

`runners.rlvr.grpo_loss` is importable from here; importing this package does not import torch
(the verifiers are used by processes that never train).
"""

from __future__ import annotations


def __getattr__(name: str):
    if name in ("grpo_loss", "group_advantages"):
        from runners.rlvr import loss

        return getattr(loss, name)
    raise AttributeError(f"module 'runners.rlvr' has no attribute {name!r}")
