"""What every generation backend takes and returns: sampling settings, prompts, completions.

Prompts are plain strings (tokenized as they are) or chat message lists
(`[{"role": "user", "content": ...}, ...]`, rendered with the tokenizer's chat template and the
generation prompt). Both backends tokenize through `prompt_ids`, so they see the same token ids.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

Prompt = str | list[dict[str, Any]]
FINISH_REASONS = ("eos", "stop", "length")


@dataclass(frozen=True, slots=True)
class Sampling:
    """How to sample. `temperature = 0` is greedy; `top_p` keeps the smallest set of most likely
    tokens whose probability reaches `top_p` (after temperature); `stop` strings end a completion
    (the text is cut before the stop string); `n` completions per prompt; `seed` fixes every draw."""

    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 256
    stop: tuple[str, ...] = ()
    n: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.temperature >= 0 and math.isfinite(self.temperature)):
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1 or self.n < 1:
            raise ValueError(f"max_new_tokens and n must be >= 1, got {self.max_new_tokens} and {self.n}")
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise ValueError(f"stop strings must be non-empty strings, got {self.stop!r}")
        object.__setattr__(self, "stop", tuple(self.stop))


@dataclass(slots=True)
class Completion:
    """One sampled completion.

    `token_ids` are the generated ids, including the EOS or the token that completed a stop string;
    `logprobs[k]` is the log-probability of `token_ids[k]` under the distribution it was drawn from:
    log_softmax(logits / temperature), renormalised over the top-p set; at temperature 0 the
    model's own log_softmax(logits). `text` is the decoded completion without special tokens and
    without the stop string. `finish_reason` is "eos", "stop" (a stop string) or "length".
    """

    text: str
    token_ids: list[int]
    logprobs: list[float]
    finish_reason: str


@dataclass(slots=True)
class Generation:
    """The completions of one `generate` call: `completions[i][j]` is sample j of prompt i."""

    completions: list[list[Completion]]
    prompt_token_ids: list[list[int]]
    seconds: float
    new_tokens: int = field(default=0)

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0

    def stats(self) -> dict[str, float]:
        n = sum(len(c) for c in self.completions)
        reasons = {r: sum(c.finish_reason == r for cs in self.completions for c in cs) for r in FINISH_REASONS}
        return {"completions": n, "new_tokens": self.new_tokens, "seconds": round(self.seconds, 3),
                "tokens_per_s": round(self.tokens_per_s, 1), **{f"finish_{r}": v for r, v in reasons.items()}}


def render(tokenizer, prompt: Prompt) -> str:
    """The text the model sees: a string as is, a message list through the chat template."""
    if isinstance(prompt, str):
        return prompt
    if not isinstance(prompt, list) or not all(isinstance(m, dict) and "role" in m and "content" in m for m in prompt):
        raise ValueError(f"a prompt is a string or a list of {{'role', 'content'}} messages, got {prompt!r:.80}")
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("chat prompts need a tokenizer with a chat template (training exports write one)")
    return tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)


def prompt_ids(tokenizer, prompt: Prompt) -> list[int]:
    """Token ids of a prompt; the template writes any special tokens itself, so none are added."""
    ids = tokenizer(render(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"prompt {prompt!r:.80} has no tokens")
    return list(ids)


def stop_ids(tokenizer, model_config=None) -> set[int]:
    """Token ids that end a completion with finish_reason "eos": the tokenizer's EOS and the model's."""
    out = set()
    if tokenizer.eos_token_id is not None:
        out.add(int(tokenizer.eos_token_id))
    eos = getattr(model_config, "eos_token_id", None) if model_config is not None else None
    for e in eos if isinstance(eos, list | tuple) else [eos]:
        if e is not None:
            out.add(int(e))
    return out


def cut_at_stop(text: str, stops: tuple[str, ...], start: int = 0) -> int | None:
    """Index of the earliest stop string in `text[start:]` (as an index into `text`), or None."""
    hits = [i for s in stops if (i := text.find(s, start)) >= 0]
    return min(hits) if hits else None
