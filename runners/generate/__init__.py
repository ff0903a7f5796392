"""Text generation for the stages that sample from a model (DPO pairs, RLVR groups, evaluation).

    from runners.generate import Sampling, generator

    gen = generator("runs/sft-1234abcd/hf")            # a folder or HF id; or an in-memory model:
    gen = generator(model, tokenizer=tok)              # (used as it is at each call: RL's learner)
    result = gen.generate(["2 + 2 =", [{"role": "user", "content": "Hi"}]],
                          Sampling(temperature=1.0, top_p=0.95, max_new_tokens=64, stop=("\\n\\n",),
                                   n=4, seed=7))
    c = result.completions[0][3]                       # prompt 0, sample 3
    c.text, c.token_ids, c.logprobs, c.finish_reason   # finish_reason: "eos" | "stop" | "length"
    result.tokens_per_s, result.stats()

Two backends with the same inputs and outputs: `backend="hf"` (transformers, CPU or GPU: batched
with the KV cache and left padding, `batch_size` rows at a time) and `backend="vllm"` (the `gpu`
extra; vllm is imported only when this backend is chosen; a model path, not an in-memory model).

- Prompts: strings are tokenized as they are; message lists go through the tokenizer's chat
  template with the generation prompt (training exports carry the template they trained with).
- Seeds: sample j of prompt i draws from its own random stream, seeded by (seed, i, j): the same
  seed gives the same samples, another seed others, whatever `batch_size` is (up to float
  rounding of the logits between batch shapes, which can flip a draw that falls exactly on a
  token boundary); raising `n` keeps the first samples.
- Log-probs: `Completion.logprobs[k]` is log p(token_ids[k]) under the distribution sampled from:
  log_softmax(logits / temperature), renormalised over the top-p set. At temperature 0 (greedy) it
  is the model's log_softmax(logits). This is what truncated importance sampling needs; vLLM's
  `logprobs_mode="processed_logprobs"` returns the same quantity.
- `token_ids` include the EOS (or the token that completed a stop string); `text` has neither.
- A tqdm progress bar (`progress=False` turns it off); `Generation.stats()` gives tokens/s.
"""

from __future__ import annotations

from runners.generate.types import Completion, Generation, Prompt, Sampling, prompt_ids, render

BACKENDS = ("hf", "vllm")


def generator(model, *, backend: str = "hf", tokenizer=None, device=None, dtype="auto", batch_size: int = 32,
              **engine_args):
    """A generator for `model` (a folder, an HF id, or for `hf` an in-memory PreTrainedModel)."""
    if backend == "hf":
        from runners.generate.hf import HFGenerator

        return HFGenerator(model, tokenizer, device=device, dtype=dtype, batch_size=batch_size)
    if backend == "vllm":
        from runners.generate.vllm_backend import VLLMGenerator

        if not isinstance(model, str) and not hasattr(model, "__fspath__"):
            raise ValueError("the vllm backend loads the model itself: pass a folder or HF id")
        return VLLMGenerator(model, tokenizer, dtype=dtype, **engine_args)
    raise ValueError(f"unknown generation backend {backend!r}; expected one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Completion", "Generation", "Prompt", "Sampling", "generator", "prompt_ids", "render"]
