"""Closed-form size and cost of an OLMo-3-style transformer, from its `ModelConfig` alone.

The planner (`olmospec plan`) needs parameter counts and FLOPs without building a model, and the
training runner needs the same numbers for MFU; both use these functions, and the runner's tests
check them against the real transformers model. Pure arithmetic: no torch import.

Layer shapes follow transformers' `Olmo3ForCausalLM` (= OLMo-core's reordered-norm block): q/k/v/o
projections without bias, QK-norm over the full q and k projections (not per head), a SwiGLU MLP
(gate, up, down), two RMSNorms per block (after attention, after the MLP), a final RMSNorm and an
LM head. Vocabulary sizes are the padded ones, as the embedding matrices are.
"""

from __future__ import annotations

from olmospec.ir.model import ModelConfig

# Dense (no sparsity) bf16 tensor-core peak of one accelerator, FLOP/s, from the vendors' datasheets
# (NVIDIA H100 SXM: 989.4 TFLOPS; H200 and GH200 share its compute; A100: 312; B200: 2,250;
# AMD MI300X: 1,307.4). The spec's `runtime { gpu = "H100" }` names one; `olmospec plan` divides a
# stage's FLOPs per second (throughput x FLOPs per token) by it to show the MFU a throughput implies.
GPU_PEAK_BF16_FLOPS: dict[str, float] = {
    "A100": 312e12,
    "H100": 989.4e12,
    "H200": 989.4e12,
    "GH200": 989.4e12,
    "B200": 2250e12,
    "MI300X": 1307.4e12,
}


def _layer_matmul_params(cfg: ModelConfig) -> int:
    """Weights of one block's matrix multiplications (attention projections and MLP)."""
    d, hd = cfg.d_model, cfg.head_dim
    q_out, kv_out = cfg.n_heads * hd, cfg.n_kv_heads * hd
    attn = d * q_out + 2 * d * kv_out + q_out * d
    mlp = 3 * d * cfg.mlp_hidden
    return attn + mlp


def _layer_norm_params(cfg: ModelConfig) -> int:
    """RMSNorm weights of one block: post-attention, post-MLP and (with QK-norm) q and k norms."""
    qk = (cfg.n_heads + cfg.n_kv_heads) * cfg.head_dim if cfg.qk_norm else 0
    return 2 * cfg.d_model + qk


def param_count(cfg: ModelConfig) -> int:
    """Every trainable parameter, embeddings included (the input embedding once if tied)."""
    emb = cfg.padded_vocab * cfg.d_model
    head = 0 if cfg.tie_embeddings else emb
    blocks = cfg.n_layers * (_layer_matmul_params(cfg) + _layer_norm_params(cfg))
    return emb + head + blocks + cfg.d_model


def non_embedding_param_count(cfg: ModelConfig) -> int:
    """Parameters outside the input embedding and the LM head (the usual "non-embedding" count)."""
    emb = cfg.padded_vocab * cfg.d_model
    return param_count(cfg) - emb - (0 if cfg.tie_embeddings else emb)


def matmul_param_count(cfg: ModelConfig) -> int:
    """N in "6N": weights that take part in a matmul per token, the LM head included and the input
    embedding (a lookup, no FLOPs) excluded; norms are negligible and left out."""
    return cfg.n_layers * _layer_matmul_params(cfg) + cfg.padded_vocab * cfg.d_model


def flops_per_token(cfg: ModelConfig, seq_len: int) -> int:
    """Training FLOPs (forward + backward) per token: 6N plus attention's score and value matmuls.

    Attention costs 12 * n_heads * head_dim * ctx per layer and token (2 matmuls, x2 for multiply-add,
    x3 for forward + backward), where ctx is what a token attends to: the sequence length for a full
    layer, and at most the window for a sliding one. NOTE: ctx is the full length, not the causal
    average, matching the PaLM/OLMo-core convention, so MFU figures are comparable with theirs.
    """
    attn = 0
    for window in cfg.layer_windows():
        ctx = seq_len if window is None else min(window, seq_len)
        attn += 12 * cfg.n_heads * cfg.head_dim * ctx
    return 6 * matmul_param_count(cfg) + attn
