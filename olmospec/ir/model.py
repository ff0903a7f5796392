"""The model architecture: every field OLMo 3's transformer has (see docs/OLMO3_FACTS.md, section 1).

`layer_windows()` expands the attention pattern to one entry per layer: an int is a sliding window
(each token sees itself and `window - 1` previous tokens, the HF `sliding_window` convention), None
is full attention. OLMo 3 uses [4096, 4096, 4096, full] repeated, so every 4th layer is full.
"""

from __future__ import annotations

from typing import Literal

from olmospec.ir.base import Frozen


class YarnConfig(Frozen):
    """YaRN RoPE extension, applied (as in OLMo 3) only to full-attention layers by default."""

    factor: float
    original_context: int
    beta_fast: float = 32.0
    beta_slow: float = 1.0
    attention_factor: float | None = None  # None: 0.1 * ln(factor) + 1, the YaRN default
    layers: Literal["full", "all"] = "full"


class ModelConfig(Frozen):
    name: str
    d_model: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    mlp_hidden: int
    vocab_size: int
    vocab_pad_to: int = 1
    attention_pattern: tuple[int | None, ...] = (None,)
    rope_theta: float = 10000.0
    norm: Literal["rms"] = "rms"
    norm_eps: float = 1e-6
    norm_placement: Literal["post"] = "post"  # OLMo 3's reordered post-norm block, the only one Olmo3 builds
    qk_norm: Literal[True] = True  # Olmo3 always normalises q and k
    activation: Literal["swiglu"] = "swiglu"
    tie_embeddings: bool = False
    init_std: float = 0.02

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def padded_vocab(self) -> int:
        m = self.vocab_pad_to
        return -(-self.vocab_size // m) * m

    def layer_windows(self) -> list[int | None]:
        pat = self.attention_pattern
        return [pat[i % len(pat)] for i in range(self.n_layers)]
