"""Drawing the next token, with a random stream per sample so that a seed means the same samples
whatever the batch size or the order in which rows finish.

Sample j of prompt i draws from its own stream, seeded by (seed, i, j): one uniform number per
generated position, taken in advance. A token is drawn by inverse CDF: the first token whose
cumulative probability reaches the uniform. So the same seed gives the same samples, another seed
other samples, and the draws of one sample do not depend on which other prompts share its batch.
(The logits themselves can differ in the last bits between batch shapes; a draw changes only if
its uniform falls within that distance of a token boundary.)
"""

from __future__ import annotations

import numpy as np
import torch


def row_seed(seed: int, prompt: int, sample: int) -> int:
    """A 63-bit seed for sample `sample` of prompt `prompt` (for backends with per-request seeds)."""
    hi, lo = np.random.SeedSequence([seed, prompt, sample]).generate_state(2, np.uint32)
    return ((int(hi) << 32) | int(lo)) & ((1 << 63) - 1)


def uniforms(seed: int, rows: list[tuple[int, int]], steps: int) -> torch.Tensor:
    """(len(rows), steps) float64 uniforms in (0, 1), row r from the stream of rows[r] = (i, j)."""
    out = np.empty((len(rows), steps), dtype=np.float64)
    for r, (i, j) in enumerate(rows):
        out[r] = 1.0 - np.random.default_rng([seed, i, j]).random(steps)  # (0, 1]: never exactly 0
    return torch.from_numpy(out)


def filtered_logprobs(logits: torch.Tensor, temperature: float, top_p: float) -> torch.Tensor:
    """log-probabilities of the distribution to sample from: log_softmax(logits / T), restricted to
    the top-p set and renormalised (tokens outside it get -inf). Temperature 0: log_softmax(logits)."""
    logits = logits.float()
    if temperature == 0:
        return torch.log_softmax(logits, dim=-1)
    scaled = logits / temperature
    if top_p < 1.0:
        ordered, order = torch.sort(scaled, dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        # NOTE: a token stays if the mass *before* it is below top_p, so the most likely one always stays
        drop = (torch.cumsum(probs, dim=-1) - probs) >= top_p
        ordered = ordered.masked_fill(drop, float("-inf"))
        scaled = torch.full_like(scaled, float("-inf")).scatter(-1, order, ordered)
    return torch.log_softmax(scaled, dim=-1)


def draw(logits: torch.Tensor, u: torch.Tensor, temperature: float, top_p: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Next tokens (B,) and their log-probabilities (B,) under the distribution they were drawn from.

    `logits` is (B, V); `u` is (B,) uniforms in (0, 1]. Greedy at temperature 0 (u unused).
    """
    logp = filtered_logprobs(logits, temperature, top_p)
    if temperature == 0:
        tokens = torch.argmax(logp, dim=-1)
    else:
        cdf = torch.cumsum(logp.double().exp(), dim=-1)
        cdf = cdf / cdf[:, -1:]  # x / x is exactly 1: the last bucket always closes at 1
        tokens = torch.searchsorted(cdf, u.to(cdf.device, torch.float64).unsqueeze(-1)).squeeze(-1)
        tokens = tokens.clamp(max=logits.shape[-1] - 1)
    return tokens, logp.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
