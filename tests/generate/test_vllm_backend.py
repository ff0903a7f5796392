"""The vLLM backend gives the transformers backend's greedy completions on the same saved model.

Runs wherever vllm imports and a CUDA device is present (vLLM >= 0.10.2, the `gpu` extra); skipped,
with the reason, elsewhere: the project's CPU machines cannot install vllm (CUDA-only wheel that
pins its own torch), so CI does not exercise this backend.
"""

from __future__ import annotations

import importlib.util

import pytest
from gen_helpers import PROMPTS

from runners.generate import Sampling, generator


def _missing() -> str | None:
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (the `gpu` extra: a CUDA-only wheel, not on the CPU CI machines)"
    import torch

    return None if torch.cuda.is_available() else "vLLM needs a CUDA device"


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


def test_vllm_greedy_matches_hf(tiny):
    folder, _, _ = tiny
    s = Sampling(temperature=0, max_new_tokens=16)
    hf = generator(str(folder), device="cuda", dtype="float32").generate(PROMPTS, s, progress=False)
    vl = generator(str(folder), backend="vllm", dtype="float32", enforce_eager=True,
                   gpu_memory_utilization=0.2).generate(PROMPTS, s, progress=False)
    assert vl.prompt_token_ids == hf.prompt_token_ids
    for a, b in zip(hf.completions, vl.completions, strict=True):
        assert a[0].token_ids == b[0].token_ids
        assert a[0].text == b[0].text
        assert a[0].finish_reason == b[0].finish_reason
        assert a[0].logprobs == pytest.approx(b[0].logprobs, abs=1e-3)


def test_vllm_seed_reaches_the_sampler(tiny):
    folder, _, _ = tiny
    gen = generator(str(folder), backend="vllm", dtype="float32", enforce_eager=True, gpu_memory_utilization=0.2)
    s = Sampling(temperature=1.0, max_new_tokens=16, n=2, seed=4)
    a = gen.generate(PROMPTS, s, progress=False)
    b = gen.generate(PROMPTS, s, progress=False)
    c = gen.generate(PROMPTS, Sampling(temperature=1.0, max_new_tokens=16, n=2, seed=5), progress=False)
    ids = [[x.token_ids for x in row] for row in a.completions]
    assert ids == [[x.token_ids for x in row] for row in b.completions]
    assert ids != [[x.token_ids for x in row] for row in c.completions]
