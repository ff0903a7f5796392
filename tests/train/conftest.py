"""Session fixtures for the training runner's tests (built with the helpers in train_helpers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from train_helpers import TEXTS, build_tokenizer, write_shard


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory) -> Path:
    return build_tokenizer(tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="session")
def tokenizer(tokenizer_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


@pytest.fixture(scope="session")
def shards(tmp_path_factory, tokenizer) -> dict[str, Path]:
    """Two sources: repetitive English and arithmetic, ~6k tokens each."""
    root = tmp_path_factory.mktemp("shards")
    rng = np.random.default_rng(0)
    eos = tokenizer.eos_token_id
    prose = [tokenizer(TEXTS[i % 3])["input_ids"] for i in range(300)]
    math = []
    for _ in range(300):
        a, b = rng.integers(0, 50, size=2)
        math.append(tokenizer(f"what is {a} + {b}? it is {a + b}.")["input_ids"])
    return {
        "prose": write_shard(root / "prose", prose, eos, len(tokenizer)),
        "math": write_shard(root / "math", math, eos, len(tokenizer)),
    }


@pytest.fixture(scope="session")
def chats(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("chat") / "sft.jsonl"
    rng = np.random.default_rng(1)
    with path.open("w") as f:
        for i in range(64):
            a, b = (int(x) for x in rng.integers(0, 50, size=2))
            msgs = [
                {"role": "user", "content": f"what is {a} + {b}?"},
                {"role": "assistant", "content": f"{a + b}"},
            ]
            f.write(json.dumps({"id": f"c{i}", "messages": msgs}) + "\n")
    return path
