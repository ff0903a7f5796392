"""Weighted data mixing: from shares and a token budget to a realized, document-level plan.

Each source has available tokens, a requested share of the budget and a repetition cap (OLMo-core's
`max_repetition_factor`). The requested tokens are share * budget; a source whose request exceeds
cap * available cannot be served as asked. Two policies:

- "error" (default): raise `MixError` naming the source, its request, what it has and its cap.
- "rescale": give the capped source cap * available, hand the shortfall to the uncapped sources in
  proportion to their shares (repeated until no new source hits its cap), and flag it in the table.
  If every source is capped, the realized total falls short of the budget, also flagged.

The plan is a table (list of dicts: requested vs realized tokens, shares, effective epochs) written as
JSON and Markdown. `sample_documents` turns one source's realized tokens into counts per document:
every document `floor(epochs)` times, plus documents taken in an order fixed by hashes of
(seed, source, id) until the remaining tokens are covered, so the plan does not depend on input order.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.base import doc_seed

POLICIES = ("error", "rescale")


class MixError(ValueError):
    """A source cannot supply its requested tokens under its repetition cap."""


@dataclass(slots=True)
class MixPlan:
    """Per-source rows, the budget, and whether the plan departs from the request."""

    budget: int
    rows: list[dict[str, Any]]
    policy: str
    flags: list[str] = field(default_factory=list)

    @property
    def realized_total(self) -> int:
        return sum(r["realized_tokens"] for r in self.rows)

    def to_json(self) -> dict[str, Any]:
        return {"budget": self.budget, "realized_total": self.realized_total, "policy": self.policy,
                "flags": self.flags, "sources": self.rows}

    def to_markdown(self) -> str:
        head = ["source", "share req.", "share real.", "requested", "realized", "available", "epochs", "cap",
                "capped"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append(
                f"| {r['source']} | {r['share_requested']:.4f} | {r['share_realized']:.4f} | "
                f"{r['requested_tokens']:,} | {r['realized_tokens']:,} | {r['available_tokens']:,} | "
                f"{r['epochs']:.3f} | {r['max_repetition']:g} | {'yes' if r['capped'] else 'no'} |"
            )
        lines.append(
            f"\nBudget {self.budget:,} tokens, realized {self.realized_total:,} (policy {self.policy})."
        )
        lines += [f"- {flag}" for flag in self.flags]
        return "\n".join(lines) + "\n"


def plan_mix(
    available: Mapping[str, int],
    shares: Mapping[str, float],
    budget: int,
    caps: Mapping[str, float] | float = 1.0,
    policy: str = "error",
) -> MixPlan:
    """Realized tokens per source for `budget` tokens split by `shares` (which must sum to 1)."""
    if policy not in POLICIES:
        raise ValueError(f"unknown mixing policy {policy!r}; expected one of {POLICIES}")
    if set(shares) - set(available):
        raise MixError(f"no token count for source(s) {sorted(set(shares) - set(available))}")
    if any(s < 0 for s in shares.values()) or not math.isclose(sum(shares.values()), 1.0, abs_tol=1e-6):
        raise MixError(f"shares must be non-negative and sum to 1, they sum to {sum(shares.values()):.6f}")
    names = sorted(shares)
    cap = {n: float(caps if isinstance(caps, int | float) else caps.get(n, 1.0)) for n in names}
    limit = {n: cap[n] * available[n] for n in names}
    requested = {n: shares[n] * budget for n in names}
    over = [n for n in names if requested[n] > limit[n] * (1 + 1e-12)]
    if over and policy == "error":
        n = over[0]
        raise MixError(
            f"source {n!r}: {requested[n]:,.0f} tokens requested ({shares[n]:.4g} of {budget:,}) but only "
            f"{limit[n]:,.0f} allowed ({available[n]:,} available x max repetition {cap[n]:g})"
        )
    realized, capped = _water_fill(requested, limit, shares, budget)
    flags = []
    if capped:
        flags.append(f"capped and rescaled: {', '.join(sorted(capped))}")
    rows = []
    for n in names:
        tokens = round(realized[n])
        rows.append({
            "source": n,
            "share_requested": shares[n],
            "requested_tokens": round(requested[n]),
            "available_tokens": int(available[n]),
            "max_repetition": cap[n],
            "realized_tokens": tokens,
            "epochs": tokens / available[n] if available[n] else 0.0,
            "capped": n in capped,
        })
    total = sum(r["realized_tokens"] for r in rows)
    for r in rows:
        r["share_realized"] = r["realized_tokens"] / total if total else 0.0
    if total < budget * (1 - 1e-9) - len(rows):
        flags.append(f"budget shortfall: {total:,} of {budget:,} tokens (every source is at its cap)")
    return MixPlan(budget, rows, policy, flags)


def _water_fill(requested, limit, shares, budget) -> tuple[dict[str, float], set[str]]:
    """Cap the sources over their limit and share the rest of the budget among the others, by share."""
    capped: set[str] = set()
    realized = dict(requested)
    while True:
        free = [n for n in requested if n not in capped]
        left = budget - sum(limit[n] for n in capped)
        weight = sum(shares[n] for n in free)
        for n in free:
            realized[n] = left * shares[n] / weight if weight > 0 else 0.0
        new = [n for n in free if realized[n] > limit[n] * (1 + 1e-12)]
        if not new:
            break
        capped.update(new)
    for n in capped:
        realized[n] = limit[n]
    return realized, capped


def write_plan(plan: MixPlan, out_dir: str | os.PathLike) -> tuple[Path, Path]:
    """mix_plan.json and mix_plan.md in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    js, md = out / "mix_plan.json", out / "mix_plan.md"
    js.write_text(json.dumps(plan.to_json(), indent=2, sort_keys=True) + "\n")
    md.write_text(plan.to_markdown())
    return js, md


def sample_documents(
    docs: Iterable[tuple[str, int]], target_tokens: int, seed: int = 0, source: str = ""
) -> list[tuple[str, int]]:
    """(id, times used) for each document used, covering `target_tokens` of the source's documents.

    Whole epochs first; the remainder is filled with documents in hash order until covered, so the
    overshoot is at most one document. Documents used zero times are omitted.
    """
    docs = list(docs)
    available = sum(t for _, t in docs)
    if available == 0:
        return []
    epochs, remainder = divmod(int(target_tokens), available)
    counts = {doc_id: epochs for doc_id, _ in docs}
    order = sorted(docs, key=lambda d: (doc_seed(seed, d[0], f"mix:{source}"), d[0]))
    taken = 0
    for doc_id, n_tokens in order:
        if taken >= remainder:
            break
        counts[doc_id] += 1
        taken += n_tokens
    return sorted(((i, c) for i, c in counts.items() if c > 0), key=lambda x: x[0])


def shard_documents(shard_dir: str | os.PathLike) -> list[tuple[str, int]]:
    """(index as id, tokens) for each document of a token shard (see docs/CONTRACTS.md)."""
    offsets = np.load(Path(shard_dir) / "offsets.npy")
    return [(str(i), int(n)) for i, n in enumerate(np.diff(offsets))]


def shard_tokens(shard_dir: str | os.PathLike) -> int:
    """A token shard's total, from its meta.json."""
    return int(json.loads((Path(shard_dir) / "meta.json").read_text())["n_tokens"])
