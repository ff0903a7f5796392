"""The vLLM backend (the `gpu` extra), written against vLLM's offline API (`LLM`, `SamplingParams`,
sampled-token log-probs) as documented for vLLM 0.11; it needs vLLM >= 0.10.2 for
`logprobs_mode="processed_logprobs"`, which makes the returned log-probs those of the distribution
actually sampled from (after temperature and top-p), as the transformers backend returns them.

vllm is imported only when this backend is built. Prompts are tokenized here with the same
`prompt_ids` as the transformers backend and passed as token ids, so both see the same tokens.
Each sample is its own request with the per-sample seed of `sampler.row_seed`, so a seed gives the
same samples whatever the batching (vLLM's draws differ from the transformers backend's).

The project's CI does not run vLLM (its wheel is CUDA-only and pins its own torch);
tests/generate/test_vllm_backend.py runs wherever vllm imports.
"""

from __future__ import annotations

import time
from pathlib import Path

from runners.generate.sampler import row_seed
from runners.generate.types import Completion, Generation, Prompt, Sampling, prompt_ids


class VLLMGenerator:
    def __init__(self, model: str | Path, tokenizer=None, *, dtype: str = "auto", **engine_args):
        from vllm import LLM

        self.llm = LLM(model=str(model), tokenizer=str(tokenizer or model), dtype=dtype,
                       logprobs_mode="processed_logprobs", **engine_args)
        self.tokenizer = self.llm.get_tokenizer()

    def generate(self, prompts: list[Prompt], sampling: Sampling, *, progress: bool = True,
                 desc: str = "generate") -> Generation:
        from vllm import SamplingParams

        ids = [prompt_ids(self.tokenizer, p) for p in prompts]
        requests, params, rows = [], [], []
        for i, p in enumerate(ids):
            for j in range(sampling.n):
                requests.append({"prompt_token_ids": p})
                params.append(SamplingParams(
                    n=1, temperature=sampling.temperature, top_p=sampling.top_p,
                    max_tokens=sampling.max_new_tokens, stop=list(sampling.stop) or None,
                    seed=row_seed(sampling.seed, i, j), logprobs=0))
                rows.append((i, j))
        t0 = time.perf_counter()
        outputs = self.llm.generate(requests, sampling_params=params, use_tqdm=progress)
        seconds = time.perf_counter() - t0
        out: list[list[Completion | None]] = [[None] * sampling.n for _ in ids]
        new_tokens = 0
        for (i, j), res in zip(rows, outputs, strict=True):
            o = res.outputs[0]
            tokens = list(o.token_ids)
            lps = [float(step[t].logprob) for t, step in zip(tokens, o.logprobs or [], strict=True)]
            out[i][j] = Completion(o.text, tokens, lps, _finish(o.finish_reason, o.stop_reason))
            new_tokens += len(tokens)
        return Generation(completions=out, prompt_token_ids=ids, seconds=seconds, new_tokens=new_tokens)


def _finish(reason: str | None, stop_reason) -> str:
    """vLLM says "stop" for both EOS (stop_reason None or a stop token id) and stop strings."""
    if reason == "length":
        return "length"
    return "stop" if isinstance(stop_reason, str) else "eos"
