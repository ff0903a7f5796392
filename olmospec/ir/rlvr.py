"""The RLVR runner's config: what `python -m runners.rlvr --config FILE` receives.

Written by the compiler for each `stage ... { kind = rlvr }`, fully resolved: the model (to build
the learner exactly as the training runner does), the stage it starts from, the prompt input, the
rewards and every GRPO setting. Runtime settings (processes, device, micro-batch) sit in `runtime`,
outside the stage's identity, as for training stages.
"""

from __future__ import annotations

from typing import Any, Literal

from olmospec.ir.base import Frozen
from olmospec.ir.model import ModelConfig
from olmospec.ir.train import OptimizerConfig, ScheduleConfig, TrainRuntime

VERIFIERS = ("math", "code", "ifeval")  # rewards that check the prompt's ground truth
CONTROLS = ("random", "format")  # rewards that ignore it: the spurious-reward controls
REWARDS = VERIFIERS + CONTROLS


class RlvrConfig(Frozen):
    stage_id: str
    kind: Literal["rlvr"] = "rlvr"
    model: ModelConfig
    tokenizer: str  # folder with a transformers tokenizer
    init_from: str  # the stage RL starts from (its `hf/` export is loaded)
    prompts: dict[str, Any]  # an input as the compiler writes it (a source's files or a curation's docs/)
    rewards: tuple[Literal["math", "code", "ifeval", "random", "format"], ...]
    template: Literal["chat", "answer"] = "chat"  # answer: RL-Zero's plain "Question: ...\nAnswer:" prompt
    group: int = 8
    prompts_per_batch: int = 64
    steps: int
    clip: tuple[float, float] = (0.2, 0.272)
    tis_cap: float | None = 2.0
    kl: float = 0.0
    advantages: Literal["centered", "standard"] = "centered"
    active_sampling: bool = True
    max_refills: int = 8  # extra generate rounds per step that active sampling may spend filling the batch
    retire_above: float | None = 0.875  # prompts solved at a pass rate above this are not sampled again
    ifeval_mode: Literal["all", "fraction"] = "all"
    temperature: float = 1.0
    max_response: int = 1024
    minibatches: int = 1
    optimizer: OptimizerConfig
    schedule: ScheduleConfig
    seed: int = 0
    output: str  # runs/<stage-id>
    runtime: TrainRuntime = TrainRuntime()
