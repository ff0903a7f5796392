"""The transformers backend: batched decoding with the KV cache and left padding, on CPU or GPU.

Rows (one per prompt x sample) are sorted by prompt length and cut into batches of `batch_size`,
so little padding is computed. A batch is left-padded and prefilled once (logits of the last
position only); then each step feeds one token per row through the cache. Rows that finish leave
the batch (the cache drops them), so a long tail costs only its own rows.

The model may be a path / HF id (loaded here) or an in-memory `PreTrainedModel`, used as it is at
call time: RL samples from the learner whose weights change every step. Its training mode is
restored afterwards. A model sharded with FSDP would need every rank to run the same number of
forward calls; sample from an unsharded copy instead.
"""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import torch

from runners.generate.sampler import draw, uniforms
from runners.generate.types import Completion, Generation, Prompt, Sampling, cut_at_stop, prompt_ids, stop_ids


def load_model(path: str | Path, device: str | torch.device | None = None, dtype: str | torch.dtype = "auto"):
    """A causal LM and its tokenizer from a folder or an HF id, in eval mode on `device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if dtype == "auto":
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=dtype).to(device).eval()
    return model, tokenizer


class HFGenerator:
    def __init__(self, model, tokenizer=None, *, device=None, dtype="auto", batch_size: int = 32):
        if isinstance(model, str | Path):
            model, loaded = load_model(model, device, dtype)
            tokenizer = tokenizer or loaded
        elif tokenizer is None:
            raise ValueError("an in-memory model needs its tokenizer")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model, self.tokenizer, self.batch_size = model, tokenizer, batch_size
        params = inspect.signature(model.forward).parameters
        # NOTE: transformers 5.x renames `past_key_values` to `cache`; take whichever this model has
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._eos = stop_ids(tokenizer, model.config)
        self._pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(self._eos, default=0)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def generate(self, prompts: list[Prompt], sampling: Sampling, *, progress: bool = True,
                 desc: str = "generate") -> Generation:
        from tqdm import tqdm

        ids = [prompt_ids(self.tokenizer, p) for p in prompts]
        rows = [(i, j) for i in range(len(ids)) for j in range(sampling.n)]
        rows.sort(key=lambda r: -len(ids[r[0]]))  # stable: equal lengths keep prompt order
        out: list[list[Completion | None]] = [[None] * sampling.n for _ in ids]
        was_training = self.model.training
        self.model.eval()
        t0 = time.perf_counter()
        new_tokens = 0
        bar = tqdm(total=len(rows), desc=desc, unit="sample", disable=not progress, mininterval=1.0)
        try:
            with torch.inference_mode():
                for k in range(0, len(rows), self.batch_size):
                    chunk = rows[k : k + self.batch_size]
                    for (i, j), c in zip(chunk, self._batch([ids[i] for i, _ in chunk], chunk, sampling), strict=True):
                        out[i][j] = c
                        new_tokens += len(c.token_ids)
                    bar.update(len(chunk))
                    bar.set_postfix(tok_s=f"{new_tokens / (time.perf_counter() - t0):.0f}", refresh=False)
        finally:
            bar.close()
            self.model.train(was_training)
        return Generation(completions=out, prompt_token_ids=ids, seconds=time.perf_counter() - t0,
                          new_tokens=new_tokens)

    def _forward(self, input_ids, attention_mask, position_ids, cache, last_only: bool):
        kw = {self._cache_kw: cache, "use_cache": True}
        if last_only:
            kw["logits_to_keep"] = 1
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids, **kw)
        return out.logits[:, -1].float()

    def _batch(self, prompts: list[list[int]], rows: list[tuple[int, int]], s: Sampling) -> list[Completion]:
        from transformers import DynamicCache

        dev = self.device
        b, width = len(prompts), max(len(p) for p in prompts)
        input_ids = torch.full((b, width), self._pad, dtype=torch.long)
        mask = torch.zeros((b, width), dtype=torch.long)
        for r, p in enumerate(prompts):
            input_ids[r, width - len(p) :] = torch.tensor(p)
            mask[r, width - len(p) :] = 1
        input_ids, mask = input_ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        u = uniforms(s.seed, rows, s.max_new_tokens)
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(input_ids, mask, positions, cache, last_only=True)
        next_pos = positions[:, -1] + 1
        alive = torch.arange(b)  # chunk row of each cache row
        gen: list[list[int]] = [[] for _ in range(b)]
        lps: list[list[float]] = [[] for _ in range(b)]
        done: list[Completion | None] = [None] * b
        seen = [0] * b  # characters of each row's text already searched for stop strings
        longest_stop = max((len(x) for x in s.stop), default=0)
        for t in range(s.max_new_tokens):
            tokens, logp = draw(logits, u[alive, t], s.temperature, s.top_p)
            keep = []
            for slot, (r, tok, lp) in enumerate(zip(alive.tolist(), tokens.tolist(), logp.tolist(), strict=True)):
                gen[r].append(tok)
                lps[r].append(lp)
                if tok in self._eos:
                    done[r] = self._completion(gen[r], lps[r], "eos", eos=True)
                    continue
                if s.stop:
                    text = self.tokenizer.decode(gen[r], skip_special_tokens=True)
                    at = cut_at_stop(text, s.stop, max(0, seen[r] - longest_stop + 1))
                    seen[r] = len(text)
                    if at is not None:
                        done[r] = Completion(text[:at], gen[r], lps[r], "stop")
                        continue
                if t == s.max_new_tokens - 1:
                    done[r] = self._completion(gen[r], lps[r], "length")
                    continue
                keep.append(slot)
            if not keep:
                break
            if len(keep) < len(alive):
                idx = torch.tensor(keep, device=dev)
                cache.batch_select_indices(idx)
                mask, next_pos, tokens = mask[idx], next_pos[idx], tokens[idx]
                alive = alive[torch.tensor(keep)]
            mask = torch.cat([mask, torch.ones((len(alive), 1), dtype=mask.dtype, device=dev)], dim=1)
            logits = self._forward(tokens.unsqueeze(-1).to(dev), mask, next_pos.unsqueeze(-1), cache, last_only=False)
            next_pos = next_pos + 1
        return done

    def _completion(self, ids: list[int], lps: list[float], reason: str, eos: bool = False) -> Completion:
        text = self.tokenizer.decode(ids[:-1] if eos else ids, skip_special_tokens=True)
        return Completion(text, ids, lps, reason)
