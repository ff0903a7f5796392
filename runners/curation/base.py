"""The shared shape of a curation step's result.

A step never drops a document silently: everything it does not keep appears in `removed` with a
machine-readable reason, and `stats` counts per reason, so that a run's numbers add up
(`len(kept) + len(removed) == len(input)` for filtering steps).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

Doc = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Removed:
    """One document a step did not keep, and why (`detail` names e.g. the copy that was kept)."""

    id: str
    reason: str
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "reason": self.reason}
        if self.detail is not None:
            out["detail"] = self.detail
        return out


@dataclass(slots=True)
class StepResult:
    """Kept documents (possibly rewritten, e.g. by substring dedup or FIM), removed ones, counts."""

    kept: list[Doc] = field(default_factory=list)
    removed: list[Removed] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def reason_counts(self) -> dict[str, int]:
        return dict(sorted(Counter(r.reason for r in self.removed).items()))


def doc_seed(seed: int, doc_id: str, salt: str) -> int:
    """A 64-bit seed that depends only on (salt, seed, document id).

    Seeding per document rather than per shard makes a step's random choices independent of
    document order, sharding and worker count. `salt` keeps the draws of different steps apart.
    """
    import xxhash

    return xxhash.xxh64_intdigest(f"{salt}\x00{seed}\x00{doc_id}".encode())
