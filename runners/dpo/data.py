"""Pairs as token sequences: how a pair is tokenized (once, in the reference stage), the file that
carries the tokenized pairs with their reference log-probs to the DPO stage, and batching.

A side of a pair is the chat [user: prompt, assistant: completion] encoded exactly as the SFT stage
encodes chats (`runners.train.sft.encode_chat`: the policy's chat format, the completion followed by
EOS), so DPO scores completions the way the policy was trained to produce them. The completion is
the suffix `ids[start:]`; only its tokens count in the log-probs.

`pairs.parquet` (one row per kept pair): id, split ("train" | "heldout"), chosen_ids, chosen_start,
rejected_ids, rejected_start, chosen_tokens, rejected_tokens (completion token counts),
ref_chosen_logp, ref_rejected_logp (summed over completion tokens), ref_chosen_mean,
ref_rejected_mean (per-token means), and the record's provenance (file, line, kept_by). The DPO
stage reads the token ids from here and never tokenizes again, so policy and reference log-probs
are always over the same tokens.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

COLUMNS = ("id", "split", "chosen_ids", "chosen_start", "rejected_ids", "rejected_start", "chosen_tokens",
           "rejected_tokens", "ref_chosen_logp", "ref_rejected_logp", "ref_chosen_mean", "ref_rejected_mean",
           "file", "line", "kept_by")


def encode_side(tokenizer, prompt: str, completion: str) -> tuple[list[int], int]:
    """(token ids of prompt + completion, index where the completion starts)."""
    from runners.train.sft import encode_chat

    ids, train = encode_chat([{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}],
                             tokenizer)
    start = train.index(True)
    return ids, start


def split_of(pair_id: str, seed: int, heldout: float) -> str:
    """"heldout" for a fixed share of pairs, chosen by a hash of (seed, id): independent of order."""
    h = int(hashlib.sha256(f"{seed}:{pair_id}".encode()).hexdigest()[:12], 16) / 16**12
    return "heldout" if h < heldout else "train"


def collate(seqs: list[tuple[list[int] | np.ndarray, int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded input ids (B, T) and completion masks (B, T) of (ids, start) sequences.

    NOTE: right padding needs no attention mask: under causal attention no real token sees a pad.
    """
    width = max(len(ids) for ids, _ in seqs)
    input_ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.bool)
    for r, (ids, start) in enumerate(seqs):
        input_ids[r, : len(ids)] = torch.as_tensor(np.asarray(ids, dtype=np.int64))
        mask[r, start : len(ids)] = True
    return input_ids, mask


@torch.no_grad()
def sequence_logps(model, seqs: list[tuple], pad_id: int, micro_batch: int, device, dtype=torch.float32
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed completion log-probs (float64) and completion token counts of each sequence, in order.

    Sequences are run `micro_batch` at a time, longest first, so that a batch wastes little padding.
    """
    from runners.dpo.loss import completion_logps

    order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i][0]))
    sums = torch.zeros(len(seqs), dtype=torch.float64)
    counts = torch.zeros(len(seqs), dtype=torch.long)
    autocast = dtype != torch.float32
    for k in range(0, len(order), micro_batch):
        idx = order[k : k + micro_batch]
        input_ids, mask = collate([seqs[i] for i in idx], pad_id)
        input_ids, mask = input_ids.to(device), mask.to(device)
        with torch.autocast(torch.device(device).type, dtype=dtype, enabled=autocast):
            logits = model(input_ids=input_ids, use_cache=False).logits
        s, n = completion_logps(logits, input_ids, mask)
        sums[idx] = s.double().cpu()
        counts[idx] = n.cpu()
    return sums, counts


@dataclass
class PairSet:
    """The tokenized pairs of one split, as the DPO stage reads them."""

    ids: list[str]
    chosen: list[tuple[np.ndarray, int]]
    rejected: list[tuple[np.ndarray, int]]
    ref_chosen: torch.Tensor  # summed reference log-probs, float64
    ref_rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)


def read_pairs(path: str | Path, split: str) -> PairSet:
    import pyarrow.parquet as pq

    t = pq.read_table(path).to_pydict()
    rows = [i for i, s in enumerate(t["split"]) if s == split]

    def side(name: str) -> list[tuple[np.ndarray, int]]:
        return [(np.asarray(t[f"{name}_ids"][i], dtype=np.int64), int(t[f"{name}_start"][i])) for i in rows]

    def col(name: str, dtype) -> torch.Tensor:
        return torch.tensor([t[name][i] for i in rows], dtype=dtype)

    return PairSet(ids=[t["id"][i] for i in rows], chosen=side("chosen"), rejected=side("rejected"),
                   ref_chosen=col("ref_chosen_logp", torch.float64), ref_rejected=col("ref_rejected_logp", torch.float64),
                   chosen_tokens=col("chosen_tokens", torch.long), rejected_tokens=col("rejected_tokens", torch.long))
