"""transformers' `Olmo3ForCausalLM` from an olmospec `ModelConfig`, with an init that ignores sharding.

Every `Olmo3Config` field is set explicitly: the class defaults are OLMo 2 leftovers (eos 50279,
vocab 50304, theta 500000) that would silently change the model. RoPE is given per layer type
(transformers v5 `rope_parameters`), so YaRN can apply to full-attention layers only, as OLMo 3 does.

Initialisation draws each parameter from its own generator, seeded by (seed, parameter name), on the
CPU at full shape, and only then keeps the local shard. The same seed therefore gives the same weights
on 1 process or on N, sharded or not, which is what lets a 2-rank run reproduce a 1-rank run.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import torch
from torch import nn

from olmospec.ir.model import ModelConfig, YarnConfig
from runners.train.errors import StageError

SLIDING, FULL = "sliding_attention", "full_attention"


class ModelConfigError(StageError):
    """A ModelConfig that this runner cannot build; the message names the field."""


def _rope(theta: float, yarn: YarnConfig | None) -> dict:
    if yarn is None:
        return {"rope_type": "default", "rope_theta": theta}
    out = {
        "rope_type": "yarn",
        "rope_theta": theta,
        "factor": yarn.factor,
        "original_max_position_embeddings": yarn.original_context,
        "beta_fast": yarn.beta_fast,
        "beta_slow": yarn.beta_slow,
    }
    if yarn.attention_factor is not None:
        out["attention_factor"] = yarn.attention_factor
    return out


def hf_config(
    cfg: ModelConfig,
    *,
    eos_id: int,
    pad_id: int | None,
    max_positions: int,
    yarn: YarnConfig | None = None,
):
    """The `Olmo3Config` for `cfg`; raises `ModelConfigError` for what Olmo3 cannot express."""
    from transformers import Olmo3Config

    # norm_placement and qk_norm have one value each (ModelConfig): Olmo3's post-norm block with QK-norm
    if cfg.d_model % cfg.n_heads or cfg.n_heads % cfg.n_kv_heads:
        raise ModelConfigError(
            f"model.d_model={cfg.d_model} must divide by n_heads={cfg.n_heads}, "
            f"and n_heads by n_kv_heads={cfg.n_kv_heads}"
        )
    windows = cfg.layer_windows()
    sizes = sorted({w for w in windows if w is not None})
    if len(sizes) > 1:
        raise ModelConfigError(
            f"model.attention_pattern has sliding windows {sizes}; Olmo3 takes one window size for all "
            "sliding layers"
        )
    layer_types = [FULL if w is None else SLIDING for w in windows]
    full_yarn = yarn
    sliding_yarn = yarn if yarn is not None and yarn.layers == "all" else None
    if yarn is not None:
        max_positions = max(max_positions, int(yarn.original_context * yarn.factor))
    return Olmo3Config(
        vocab_size=cfg.padded_vocab,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.mlp_hidden,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_kv_heads,
        hidden_act="silu",
        max_position_embeddings=max_positions,
        initializer_range=cfg.init_std,
        use_cache=True,
        pad_token_id=pad_id,
        bos_token_id=None,
        eos_token_id=eos_id,
        tie_word_embeddings=cfg.tie_embeddings,
        rope_parameters={
            SLIDING: _rope(cfg.rope_theta, sliding_yarn),
            FULL: _rope(cfg.rope_theta, full_yarn),
        },
        attention_bias=False,
        attention_dropout=0.0,
        rms_norm_eps=cfg.norm_eps,
        # NOTE: Olmo3 builds a sliding mask even when no layer uses it, and fails on None
        sliding_window=sizes[0] if sizes else max_positions,
        layer_types=layer_types,
    )


def build_meta(config) -> nn.Module:
    """The model with every tensor on the meta device: no memory, no init, ready to be sharded."""
    from transformers import Olmo3ForCausalLM

    with torch.device("meta"):
        return Olmo3ForCausalLM(config)


def materialize(model: nn.Module, device: torch.device | str) -> nn.Module:
    """Allocate a meta (possibly sharded) model's storage on `device`, uninitialised.

    NOTE: `to_empty` swaps in new parameter objects, which unties a tied LM head; tie it again.
    """
    model.to_empty(device=device)
    if model.config.tie_word_embeddings:
        model.tie_weights()
    return model


def _generator(seed: int, name: str) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    return g


def initial_value(name: str, shape: tuple[int, ...], std: float, seed: int) -> torch.Tensor:
    """A parameter's initial value at full shape: ones for norms, else a normal truncated at +-3 std
    (OLMo-core's `InitMethod.normal`)."""
    if len(shape) == 1:
        return torch.ones(shape)
    t = torch.empty(shape)
    nn.init.trunc_normal_(t, mean=0.0, std=std, a=-3 * std, b=3 * std, generator=_generator(seed, name))
    return t


@torch.no_grad()
def _copy_full(param: torch.Tensor, full: torch.Tensor) -> None:
    """Copy a full-shape CPU tensor into a parameter, keeping only this rank's shard of a DTensor."""
    from torch.distributed.tensor import DTensor, distribute_tensor

    full = full.to(device=param.device, dtype=param.dtype)
    if isinstance(param, DTensor):
        full = distribute_tensor(full, param.device_mesh, param.placements)
    param.copy_(full)


@torch.no_grad()
def reset_buffers(model: nn.Module) -> None:
    """Recompute the rotary buffers, which `to_empty` leaves uninitialised (they are not saved)."""
    rot = model.model.rotary_emb
    device = next(iter(rot.buffers())).device
    fresh = type(rot)(model.config, device=device)
    for name, buf in fresh.named_buffers():
        getattr(rot, name).copy_(buf)


def init_weights(model: nn.Module, std: float, seed: int) -> None:
    """Deterministic, sharding-independent init of every parameter (see the module docstring)."""
    for name, p in model.named_parameters():
        _copy_full(p, initial_value(name, tuple(p.shape), std, seed))
    reset_buffers(model)


def load_hf_weights(model: nn.Module, folder: str | Path) -> None:
    """Load a previous stage's `hf/` export (safetensors) into a possibly sharded model, strictly."""
    from safetensors.torch import load_file

    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        raise StageError(f"no *.safetensors in {folder} (init_from must be a stage output with hf/)")
    state: dict[str, torch.Tensor] = {}
    for f in files:
        state.update(load_file(str(f)))
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(state))
    unexpected = sorted(set(state) - set(params))
    if missing or unexpected:
        raise StageError(
            f"{folder}: weights do not match the model: missing {missing}, unexpected {unexpected}"
        )
    for name, p in params.items():
        if tuple(state[name].shape) != tuple(p.shape):
            raise StageError(f"{folder}: {name} has shape {tuple(state[name].shape)}, model {tuple(p.shape)}")
        _copy_full(p, state[name])
    reset_buffers(model)


def count_params(model: nn.Module) -> int:
    """Parameters of a built model at full (unsharded) size, each shared tensor once."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    return total
