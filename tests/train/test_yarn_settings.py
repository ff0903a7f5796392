"""Every YaRN setting changes the RoPE of the model the training runner builds: `beta_fast` and
`beta_slow` move the frequencies YaRN interpolates, `attention_factor` replaces the default
attention scaling (0.1 ln(factor) + 1), `original_context` and `factor` set the extended range."""

from __future__ import annotations

import pytest
import torch
from train_helpers import tiny_model

from olmospec.ir.model import YarnConfig
from runners.train.model import FULL, build_meta, hf_config, init_weights, materialize


def _rotary(yarn: YarnConfig):
    model = build_meta(
        hf_config(
            tiny_model(n_layers=2, attention_pattern=(16, None)),
            eos_id=1,
            pad_id=0,
            max_positions=64,
            yarn=yarn,
        )
    )
    materialize(model, "cpu")
    init_weights(model, 0.02, 0)  # also computes the RoPE buffers
    rot = model.model.rotary_emb
    return getattr(rot, f"{FULL}_inv_freq"), getattr(rot, f"{FULL}_attention_scaling")


# an original context long enough that the YaRN ramp (beta_fast to beta_slow) lies inside the rotary dims
BASE = YarnConfig(factor=4.0, original_context=256)


@pytest.mark.parametrize(
    "change",
    [{"beta_fast": 8.0}, {"beta_slow": 2.0}, {"original_context": 128}, {"factor": 8.0}],
    ids=lambda c: next(iter(c)),
)
def test_each_setting_moves_the_yarn_frequencies(change):
    base_freq, _ = _rotary(BASE)
    freq, _ = _rotary(BASE.model_copy(update=change))
    assert not torch.allclose(freq, base_freq)


def test_attention_factor_replaces_the_default_scaling():
    _, default = _rotary(BASE)
    _, given = _rotary(BASE.model_copy(update={"attention_factor": 1.5}))
    assert default == pytest.approx(0.1 * torch.log(torch.tensor(4.0)).item() + 1)
    assert given == pytest.approx(1.5)
