"""The training runner's config: what `python -m runners.train --config FILE` receives.

The compiler writes one of these per pretrain, midtrain, longctx or sft stage, fully resolved: the
model, the data as token-shard folders with shares, the step count, the schedule. Runtime settings
(process counts, micro-batch, compile, device) sit in `runtime`, which is not part of a stage's
identity: moving a run to a cluster must not invalidate its results.
"""

from __future__ import annotations

from typing import Any, Literal

from olmospec.ir.base import Frozen
from olmospec.ir.model import ModelConfig, YarnConfig


class DataComponent(Frozen):
    """One source of a stage's data: a token-shard folder (CONTRACTS.md), or for SFT chat records."""

    name: str
    path: str  # the token-shard folder; for SFT where the records are (a glob, folder or dataset)
    share: float  # fraction of the stage's tokens, the shares of a stage add up to 1
    max_repeat: float | None = None
    # SFT: how to read the records, as `runners.inputs` takes it (a source with its fields, format,
    # dataset and split, or an upstream stage's docs/ folder); None reads `path` as chat files
    records: dict[str, Any] | None = None


class OptimizerConfig(Frozen):
    kind: Literal["adamw"] = "adamw"
    lr: float
    betas: tuple[float, float] = (0.9, 0.95)
    eps: float = 1e-8
    weight_decay: float = 0.1
    clip: float | None = 1.0
    z_loss: float = 0.0


class ScheduleConfig(Frozen):
    """LR schedule. Warmup is in steps (the compiler converts fractions when the step count is known,
    else passes `warmup_fraction`); `final` is a fraction of
    the peak LR; WSD decays over the last `decay` fraction of the steps."""

    kind: Literal["cosine", "linear", "wsd", "constant"]
    warmup_steps: int = 0
    warmup_fraction: float = 0.0  # of the total steps, when they are known only at run time (epochs)
    final: float = 0.0
    decay: float = 0.1


class TrainRuntime(Frozen):
    """Not part of a stage's identity."""

    nnodes: int = 1
    nproc_per_node: int = 1
    launcher: Literal["torchrun", "slurm"] = "torchrun"  # see runners/train/launch.py
    device: Literal["cpu", "cuda", "auto"] = "auto"
    micro_batch: int | None = None  # sequences per forward pass; None = the whole per-rank batch
    compile: bool = False
    activation_checkpointing: bool = False
    dtype: Literal["float32", "bfloat16", "auto"] = "auto"
    threads: int | None = None
    checkpoint_every: int = 100
    log_every: int = 10
    # speed switches (none changes the update beyond float rounding; see runners/train/parallel.py)
    attention_impl: Literal["sdpa", "flex_attention", "eager"] = "sdpa"  # transformers' attention kernel
    fused_optimizer: bool = False  # AdamW's fused kernel (one launch for all parameters, no big temporaries)
    reshard_after_forward: bool = True  # FSDP2: False keeps each block's gathered bf16 weights until backward
    fsdp_prefetch: int | None = None  # FSDP2: gather this many blocks ahead (forward and backward)


class TrainConfig(Frozen):
    stage_id: str
    kind: Literal["pretrain", "midtrain", "longctx", "sft"]
    model: ModelConfig
    tokenizer: str  # folder with a transformers tokenizer
    init_from: str | None = None  # the previous stage's output folder (its `hf/` export is loaded)
    data: tuple[DataComponent, ...]
    seq_len: int
    batch_seqs: int  # global batch in sequences
    steps: int | None = None
    epochs: float | None = None  # SFT: passes over the data; steps are derived at run time
    optimizer: OptimizerConfig
    schedule: ScheduleConfig
    yarn: YarnConfig | None = None
    doc_mask: bool = False  # intra-document attention masking (the compiler's default is on for SFT)
    seed: int = 0
    output: str  # runs/<stage-id>
    runtime: TrainRuntime = TrainRuntime()
