"""Training data from token shards: read, mix sources by share, cut into sequences, batch per rank.

A source (one `DataComponent`) is one shard folder as CONTRACTS.md defines it (`tokens.bin`,
`offsets.npy`, `meta.json`), or a folder holding several. Its token stream (documents back to back,
each ending in EOS) is cut into instances of `seq_len + 1` tokens with stride `seq_len`: inputs are
the first `seq_len`, targets the last `seq_len`, so no prediction is lost at instance edges and
documents are packed without padding (OLMo-core's fixed-length instances).

Which instance fills global slot g of step s is a pure function of (seed, s, g): the source is drawn
with a generator keyed by (seed, s), and a source's k-th draw is instance perm_e[k mod n] of a
per-epoch permutation keyed by (seed, source, epoch e). The only state is how many draws each source
has had, which is checkpointed, and can also be recomputed from (seed, step) by `replay`. The global
batch is the same whatever the number of ranks; rank r takes its contiguous slice of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from olmospec.ir.train import DataComponent
from runners.train.errors import StageError

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Shard:
    """One shard folder, memory-mapped: tokens plus document offsets."""

    path: Path
    tokens: np.ndarray
    offsets: np.ndarray
    meta: dict

    @classmethod
    def open(cls, folder: str | Path) -> Shard:
        folder = Path(folder)
        meta = json.loads((folder / "meta.json").read_text())
        dtype = np.dtype(meta["dtype"]).newbyteorder("<")
        if meta["n_tokens"] == 0:  # an empty file cannot be memory-mapped
            tokens = np.zeros(0, dtype=dtype)
        else:
            tokens = np.memmap(folder / "tokens.bin", dtype=dtype, mode="r")
        offsets = np.load(folder / "offsets.npy", mmap_mode="r")
        if int(offsets[-1]) != len(tokens) or len(offsets) != meta["n_docs"] + 1:
            raise StageError(
                f"{folder}: offsets.npy ({len(offsets) - 1} docs ending at {int(offsets[-1])}) does not "
                f"match tokens.bin ({len(tokens)} tokens) and meta.json (n_docs={meta['n_docs']})"
            )
        return cls(folder, tokens, offsets, meta)

    def document(self, i: int) -> np.ndarray:
        return np.asarray(self.tokens[self.offsets[i] : self.offsets[i + 1]])


def shard_folders(path: str | Path) -> list[Path]:
    """The shard folders of a source: `path` itself if it holds meta.json, else those below it."""
    path = Path(path)
    if (path / "meta.json").exists():
        return [path]
    found = sorted(p.parent for p in path.rglob("meta.json"))
    if not found:
        raise StageError(f"{path}: no token shard (meta.json) in or below this folder")
    return found


class Source:
    """A source's instances of `seq_len + 1` tokens, across its shards, addressed by one index."""

    def __init__(self, component: DataComponent, seq_len: int):
        self.name = component.name
        self.shards = [Shard.open(p) for p in shard_folders(component.path)]
        self.seq_len = seq_len
        counts = [max(0, (len(s.tokens) - 1) // seq_len) for s in self.shards]
        self.starts = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.n_tokens = sum(len(s.tokens) for s in self.shards)
        if self.n_instances == 0:
            raise StageError(f"data source {self.name!r} has {self.n_tokens} tokens: fewer than seq_len + 1")

    @property
    def n_instances(self) -> int:
        return int(self.starts[-1])

    def instance(self, k: int) -> np.ndarray:
        s = int(np.searchsorted(self.starts, k, side="right") - 1)
        off = (k - int(self.starts[s])) * self.seq_len
        return np.asarray(self.shards[s].tokens[off : off + self.seq_len + 1], dtype=np.int64)


def _rng(*key: int) -> np.random.Generator:
    return np.random.Generator(np.random.Philox(np.random.SeedSequence(list(key))))


class Mixture:
    """Deterministic, resumable sampling of instances from sources by share (module docstring)."""

    def __init__(self, sources: list[Source], shares: list[float], seed: int):
        total = float(sum(shares))
        if total <= 0:
            raise StageError("data shares add up to 0")
        self.sources = sources
        self.p = np.array(shares, dtype=np.float64) / total
        self.seed = seed
        self.drawn = np.zeros(len(sources), dtype=np.int64)  # draws per source so far: the state
        self._perm: dict[int, tuple[int, np.ndarray]] = {}

    def _choose(self, step: int, n: int) -> np.ndarray:
        return _rng(self.seed, 1, step).choice(len(self.sources), size=n, p=self.p)

    def _index(self, src: int, k: int) -> int:
        n = self.sources[src].n_instances
        epoch, j = divmod(k, n)
        if self._perm.get(src, (None,))[0] != epoch:  # one permutation per source kept in memory
            self._perm[src] = (epoch, _rng(self.seed, 2, src, epoch).permutation(n))
        return int(self._perm[src][1][j])

    def step_batch(self, step: int, n: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Rows [lo, hi) of global batch `step` (n instances of seq_len + 1 tokens); the state advances
        by the whole batch, so every rank stays in step while reading only its own rows."""
        hi = n if hi is None else hi
        rows = []
        for g, src in enumerate(self._choose(step, n)):
            if lo <= g < hi:
                rows.append(self.sources[src].instance(self._index(src, int(self.drawn[src]))))
            self.drawn[src] += 1
        return np.stack(rows)

    def replay(self, steps: int, n: int) -> None:
        """Recompute the state after `steps` batches of `n` without reading any tokens."""
        self.drawn[:] = 0
        for s in range(steps):
            self.drawn += np.bincount(self._choose(s, n), minlength=len(self.sources))

    def state_dict(self) -> dict:
        return {"drawn": self.drawn.tolist()}

    def load_state_dict(self, state: dict) -> None:
        self.drawn = np.array(state["drawn"], dtype=np.int64)

    def epochs(self) -> dict[str, float]:
        """How many times each source has been seen so far (1.0 = one full pass)."""
        return {s.name: float(d) / s.n_instances for s, d in zip(self.sources, self.drawn, strict=True)}


def documents_from_eos(inputs: torch.Tensor, eos_id: int) -> torch.Tensor:
    """Document index of every input position: a new document starts after each EOS."""
    is_eos = (inputs == eos_id).long()
    starts = torch.nn.functional.pad(is_eos[:, :-1], (1, 0))
    return starts.cumsum(dim=1)


@dataclass(frozen=True, slots=True)
class Batch:
    """Inputs, targets (IGNORE where no loss) and document ids, all (n, seq_len)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    docs: torch.Tensor

    def __len__(self) -> int:
        return self.inputs.shape[0]

    def slice(self, lo: int, hi: int) -> Batch:
        return Batch(self.inputs[lo:hi], self.targets[lo:hi], self.docs[lo:hi])


def pretrain_batch(rows: np.ndarray, eos_id: int) -> Batch:
    t = torch.from_numpy(rows)
    inputs, targets = t[:, :-1].contiguous(), t[:, 1:].contiguous()
    return Batch(inputs, targets, documents_from_eos(inputs, eos_id))


def rank_rows(n: int, rank: int, world: int) -> tuple[int, int]:
    """This rank's contiguous rows [lo, hi) of a global batch of n sequences."""
    if n % world:
        raise StageError(f"batch_seqs={n} must divide by the number of processes ({world})")
    per = n // world
    return rank * per, (rank + 1) * per


def micro_batches(batch: Batch, micro: int | None) -> list[Batch]:
    """A rank's batch cut into micro-batches of `micro` sequences (gradient accumulation)."""
    per = len(batch)
    micro = micro or per
    if per % micro:
        raise StageError(f"the per-rank batch ({per}) must divide by runtime.micro_batch ({micro})")
    return [batch.slice(i, i + micro) for i in range(0, per, micro)]


def positions_and_masks(docs: torch.Tensor, windows: dict[str, int | None], dtype: torch.dtype):
    """Position ids restarting at each document, and per-layer-type additive 4D masks that are
    causal, block-diagonal over documents, and (for sliding layers) limited to the window.

    The masks are passed to transformers as a dict by layer type, which skips its own mask
    construction. NOTE: dense (n, 1, L, L) masks are fine on CPU and short sequences; long-context
    GPU runs would want varlen (cu_seqlens) attention instead.
    """
    n, length = docs.shape
    idx = torch.arange(length, device=docs.device)
    new_doc = torch.ones_like(docs, dtype=torch.bool)
    new_doc[:, 1:] = docs[:, 1:] != docs[:, :-1]
    first = torch.where(new_doc, idx.expand(n, -1), torch.zeros_like(docs)).cummax(dim=1).values
    positions = idx.expand(n, -1) - first
    same = docs[:, :, None] == docs[:, None, :]
    causal = idx[None, :, None] >= idx[None, None, :]
    masks = {}
    neg = torch.finfo(dtype).min
    for kind, window in windows.items():
        allowed = same & causal
        if window is not None:
            allowed = allowed & (idx[None, :, None] - idx[None, None, :] < window)
        m = torch.zeros((n, 1, length, length), dtype=dtype, device=docs.device)
        masks[kind] = m.masked_fill_(~allowed[:, None], neg)
    return positions, masks
