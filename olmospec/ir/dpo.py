"""The DPO stage's config: a training stage (`TrainConfig`: model, policy start, optimizer,
schedule, batch, runtime) whose data is the reference stage's tokenized pairs.

`batch_seqs` counts pairs (each a chosen and a rejected sequence) and `runtime.micro_batch` pairs
per forward pass; `steps` is derived from `epochs` and the number of training pairs when not given.
"""

from __future__ import annotations

from typing import Literal

from olmospec.ir.train import DataComponent, TrainConfig


class DpoConfig(TrainConfig):
    kind: Literal["dpo"] = "dpo"
    data: tuple[DataComponent, ...] = ()
    init_from: str  # the policy's start, whose `hf/` model is also the reference
    pairs: str  # `pairs.parquet` of the reference stage (runners/dpo/data.py)
    loss: Literal["dpo", "dpo_norm"] = "dpo_norm"
    beta: float
    label_smoothing: float = 0.0
