"""The DPO losses, as plain functions of sequence log-probabilities, so that each can be checked alone.

With log-ratios c = log pi(y_c) - log pi_ref(y_c) and r = log pi(y_r) - log pi_ref(y_r):

    dpo       c, r are summed over the completion tokens
    dpo_norm  c, r are divided by the completion's token count (clamped at 1): the per-token mean
              log-ratio, open-instruct's `dpo_norm` and TRL's `sigmoid_norm`
    loss      -(1 - eps) * log sigmoid(beta * (c - r)) - eps * log sigmoid(-beta * (c - r))

`eps` is label smoothing (the conservative DPO of open-instruct; 0 gives TRL's `sigmoid`). The
implicit rewards are beta * c and beta * r; a pair is ranked right when the chosen reward is the
larger, and a tie counts one half (so an untrained policy, equal to its reference, scores 0.5).

Log-probabilities come from `completion_logps`: position t of the logits predicts token t + 1, and
only tokens inside the completion mask count (never the prompt, never padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOSS_TYPES = ("dpo", "dpo_norm")


def log_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, loss_type: str,
               chosen_lengths=None, rejected_lengths=None) -> tuple[torch.Tensor, torch.Tensor]:
    """(chosen, rejected) log-ratios policy/reference, length-normalised for `dpo_norm`."""
    if loss_type not in LOSS_TYPES:
        raise ValueError(f"unknown DPO loss {loss_type!r}; expected one of {', '.join(LOSS_TYPES)}")
    chosen = policy_chosen_logps - ref_chosen_logps
    rejected = policy_rejected_logps - ref_rejected_logps
    if loss_type == "dpo_norm":
        if chosen_lengths is None or rejected_lengths is None:
            raise ValueError("dpo_norm needs chosen_lengths and rejected_lengths (completion token counts)")
        chosen = chosen / torch.as_tensor(chosen_lengths, dtype=chosen.dtype, device=chosen.device).clamp(min=1)
        rejected = rejected / torch.as_tensor(rejected_lengths, dtype=rejected.dtype,
                                              device=rejected.device).clamp(min=1)
    return chosen, rejected


def dpo_loss(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps, beta: float,
             loss_type: str, chosen_lengths=None, rejected_lengths=None, *, label_smoothing: float = 0.0):
    """Per-pair losses (shape of the inputs); the inputs are summed completion log-probs."""
    if not 0.0 <= label_smoothing < 0.5:
        raise ValueError(f"label_smoothing must be in [0, 0.5), got {label_smoothing}")
    chosen, rejected = log_ratios(policy_chosen_logps, policy_rejected_logps, ref_chosen_logps, ref_rejected_logps,
                                  loss_type, chosen_lengths, rejected_lengths)
    z = beta * (chosen - rejected)
    return -(1.0 - label_smoothing) * F.logsigmoid(z) - label_smoothing * F.logsigmoid(-z)


def reward_accuracy(chosen_rewards: torch.Tensor, rejected_rewards: torch.Tensor) -> torch.Tensor:
    """Share of pairs whose chosen reward is the larger; a tie counts one half."""
    wins = (chosen_rewards > rejected_rewards).double() + 0.5 * (chosen_rewards == rejected_rewards).double()
    return wins.mean()


def completion_logps(logits: torch.Tensor, input_ids: torch.Tensor, completion_mask: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed log-probs, token counts) of the completion tokens of each row.

    `completion_mask[b, t]` is True where token t of row b belongs to the completion. Computed as
    picked logit - logsumexp (no (B, T, V) log-softmax copy), in float32 or better.
    """
    logits = logits[:, :-1]
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    targets = input_ids[:, 1:]
    mask = completion_mask[:, 1:].bool()
    picked = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    token_logps = picked - torch.logsumexp(logits, dim=-1)
    return torch.where(mask, token_logps, 0.0).sum(-1), mask.sum(-1)
