"""The HF model built from a ModelConfig: sizes, RoPE/YaRN per layer type, sliding windows, init."""

from __future__ import annotations

import pytest
import torch
from train_helpers import tiny_model

from olmospec.arch import flops_per_token, matmul_param_count, non_embedding_param_count, param_count
from olmospec.ir.model import YarnConfig
from runners.train.model import (
    FULL,
    SLIDING,
    ModelConfigError,
    build_meta,
    count_params,
    hf_config,
    init_weights,
    materialize,
)


def build(cfg, yarn=None, seed=0, max_positions=128):
    model = build_meta(hf_config(cfg, eos_id=1, pad_id=0, max_positions=max_positions, yarn=yarn))
    materialize(model, "cpu")
    init_weights(model, cfg.init_std, seed)
    return model.eval()


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"n_heads": 8, "n_kv_heads": 8, "n_layers": 4, "attention_pattern": (8, 8, 8, None)},
        {"n_heads": 8, "n_kv_heads": 1, "d_model": 96, "mlp_hidden": 200, "vocab_size": 301},
        {"tie_embeddings": True},
    ],
)
def test_param_count_matches_closed_form(kw):
    cfg = tiny_model(**kw)
    assert count_params(build(cfg)) == param_count(cfg)


def test_closed_forms_on_olmo3_7b():
    """The fact sheet's 7B: 7.30B total, 6.48B non-embedding (padded vocab, untied)."""
    from olmospec.ir.model import ModelConfig

    cfg = ModelConfig(
        name="7b",
        d_model=4096,
        n_layers=32,
        n_heads=32,
        n_kv_heads=32,
        mlp_hidden=11008,
        vocab_size=100278,
        vocab_pad_to=128,
        attention_pattern=(4096, 4096, 4096, None),
        rope_theta=500000.0,
    )
    assert round(param_count(cfg) / 1e9, 2) == 7.30
    assert round(non_embedding_param_count(cfg) / 1e9, 2) == 6.48
    # 8 full layers see 8192 tokens, 24 sliding ones 4096: 12 * 32 * 128 * (8*8192 + 24*4096)
    attn = 12 * 32 * 128 * (8 * 8192 + 24 * 4096)
    assert flops_per_token(cfg, 8192) == 6 * matmul_param_count(cfg) + attn


def test_every_config_field_reaches_olmo3():
    cfg = tiny_model(n_layers=4, attention_pattern=(16, 16, 16, None), rope_theta=12345.0, norm_eps=1e-5)
    c = hf_config(cfg, eos_id=7, pad_id=3, max_positions=64)
    assert (c.vocab_size, c.hidden_size, c.intermediate_size) == (320, 64, 128)
    assert (c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads) == (4, 4, 2)
    assert c.layer_types == [SLIDING, SLIDING, SLIDING, FULL] and c.sliding_window == 16
    assert (c.eos_token_id, c.pad_token_id, c.bos_token_id) == (7, 3, None)
    assert c.rms_norm_eps == 1e-5 and c.tie_word_embeddings is False and c.initializer_range == 0.02
    assert c.rope_parameters[SLIDING]["rope_theta"] == c.rope_parameters[FULL]["rope_theta"] == 12345.0


def test_unsupported_configs_name_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="norm_placement"):  # one value: Olmo3's post-norm block
        tiny_model(norm_placement="pre")
    with pytest.raises(ModelConfigError, match="attention_pattern"):
        hf_config(tiny_model(attention_pattern=(8, 16, None)), eos_id=1, pad_id=0, max_positions=64)


def _rotary(model, layer_type, length=256):
    x = torch.zeros(1, length, 1)
    pos = torch.arange(length)[None]
    return model.model.rotary_emb(x, pos, layer_type)


def test_yarn_applies_to_full_attention_layers_only():
    """OLMo 3 extends context with YaRN on full-attention layers; sliding layers keep plain RoPE."""
    cfg = tiny_model(n_layers=4, attention_pattern=(16, 16, 16, None))
    plain = build(cfg)
    yarn = build(cfg, yarn=YarnConfig(factor=8.0, original_context=32), max_positions=256)
    rot_p, rot_y = plain.model.rotary_emb, yarn.model.rotary_emb
    assert torch.equal(rot_y.sliding_attention_inv_freq, rot_p.sliding_attention_inv_freq)
    assert rot_y.sliding_attention_attention_scaling == 1.0
    assert not torch.allclose(rot_y.full_attention_inv_freq, rot_p.full_attention_inv_freq)
    assert rot_y.full_attention_attention_scaling == pytest.approx(
        0.1 * torch.log(torch.tensor(8.0)).item() + 1
    )
    for a, b in zip(_rotary(yarn, SLIDING), _rotary(plain, SLIDING), strict=True):
        assert torch.equal(a, b)
    assert not torch.allclose(_rotary(yarn, FULL)[0], _rotary(plain, FULL)[0])
    all_layers = build(cfg, yarn=YarnConfig(factor=8.0, original_context=32, layers="all"), max_positions=256)
    assert torch.equal(all_layers.model.rotary_emb.sliding_attention_inv_freq, rot_y.full_attention_inv_freq)


@pytest.mark.parametrize("window,changes_far", [(8, False), (None, True)])
def test_sliding_layer_cannot_see_past_its_window(window, changes_far):
    """Changing token 0 changes a 1-layer sliding model's outputs only at positions < window."""
    model = build(tiny_model(n_layers=1, attention_pattern=(window,)))
    x = torch.randint(2, 300, (1, 24), generator=torch.Generator().manual_seed(0))
    y = x.clone()
    y[0, 0] = (x[0, 0] + 1) % 300
    with torch.no_grad():
        a, b = model(x).logits, model(y).logits
    near = (a[0, 1:8] - b[0, 1:8]).abs().amax()
    far = (a[0, 8:] - b[0, 8:]).abs().amax()
    assert near > 1e-4
    assert (far > 1e-4) == changes_far
    if not changes_far:
        assert far == 0.0


def test_init_is_deterministic_and_keyed_by_name():
    cfg = tiny_model()
    a, b, c = build(cfg, seed=5), build(cfg, seed=5), build(cfg, seed=6)
    for (n, pa), pb, pc in zip(a.named_parameters(), b.parameters(), c.parameters(), strict=True):
        assert torch.equal(pa, pb), n
        if pa.ndim == 2:
            assert not torch.equal(pa, pc), n
            assert pa.abs().max() <= 3 * cfg.init_std + 1e-7  # truncated at 3 std
    w = dict(a.named_parameters())
    assert not torch.equal(w["model.layers.0.mlp.up_proj.weight"], w["model.layers.1.mlp.up_proj.weight"])
