"""FSDP2 sharding, activation checkpointing and torch.compile, applied to a model built on meta.

The model code (transformers' Olmo3) knows nothing about distribution; everything lives in
`parallelize`. The order matters:

1. activation checkpointing first, because it changes what a block's forward records;
2. compile each block next, so FSDP's hooks stay outside the compiled graphs (per-block compile
   keeps parameter names unchanged, which checkpoints and the HF export rely on);
3. `fully_shard` each decoder layer, then the root: each layer becomes its own all-gather /
   reduce-scatter unit, so only one layer's full weights are alive at a time, while the root
   call groups what is left (embeddings, final norm, LM head) into one last unit.

Two FSDP2 speed switches (runtime settings, not identity): `reshard_after_forward=False` keeps each
layer's gathered weights from its forward until its backward (no second all-gather, more memory),
and `prefetch=N` gathers the next N layers ahead of use, in forward and in backward, beyond what
FSDP2 overlaps by itself.
"""

from __future__ import annotations

import torch
from torch import nn

from runners.train.launch import Dist


def compute_dtype(device: torch.device, requested: str) -> torch.dtype:
    """bf16 compute on GPU by default (fp32 master weights and reductions stay), fp32 on CPU."""
    if requested == "auto":
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[requested]


def parallelize(
    model: nn.Module,
    d: Dist,
    *,
    param_dtype: torch.dtype,
    activation_checkpointing: bool = False,
    compile: bool = False,
    reshard_after_forward: bool = True,
    prefetch: int | None = None,
) -> nn.Module:
    """Shard `model` (still on meta) over all ranks; returns it, modified in place."""
    if activation_checkpointing:
        kwargs = {"use_reentrant": False}
        if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.2x; older: the old name
            model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)
    layers = model.model.layers
    if compile:
        for layer in layers:
            layer.compile()
    if not d.initialized:
        return model
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    mesh = init_device_mesh(d.device.type, (d.world,))
    mp = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=torch.float32)
    for layer in layers:
        fully_shard(layer, mesh=mesh, mp_policy=mp, reshard_after_forward=reshard_after_forward)
    fully_shard(model, mesh=mesh, mp_policy=mp)
    if prefetch:
        blocks = list(layers)
        for i, layer in enumerate(blocks):
            layer.set_modules_to_forward_prefetch(blocks[i + 1 : i + 1 + prefetch])
            layer.set_modules_to_backward_prefetch(blocks[max(0, i - prefetch) : i][::-1])
    return model


def fsdp_settings(model: nn.Module) -> dict | None:
    """The FSDP2 settings as they took effect, read back from the first block (None without FSDP).
    NOTE: FSDP2 keeps them in private state; None where a torch version names it otherwise."""
    layer = model.model.layers[0]
    if not hasattr(layer, "_get_fsdp_state"):
        return None
    try:
        state = layer._get_fsdp_state()
        return {"reshard_after_forward": state._fsdp_param_group.post_forward_mesh_info is not None,
                "prefetch": len(state._states_to_forward_prefetch)}
    except AttributeError:
        return None
