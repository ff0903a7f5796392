"""Session fixtures for the generation tests (built with gen_helpers.py)."""

from __future__ import annotations

import pytest
from gen_helpers import build_model, build_tokenizer


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    """(model folder, model, tokenizer): the same model in memory and saved like a stage's hf/."""
    folder = tmp_path_factory.mktemp("tiny_lm")
    tok = build_tokenizer(folder)
    model = build_model(len(tok), tok.eos_token_id)
    model.save_pretrained(folder)
    return folder, model, tok
