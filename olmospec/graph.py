"""Variants -> one DAG of stage nodes; nodes with the same identity are shared between variants.

Each node is what one DVC stage runs: a runner kind, a semantic config (hashed into its identity
together with its upstream identities), a runtime config (not hashed), file inputs and outputs.
Paths in configs are relative to the project root; upstream outputs are named by upstream ids, so a
config never contains anything that changes when nothing semantic changed.
"""

from __future__ import annotations

import glob as globmod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from olmospec.identity import stage_hash, stage_id
from olmospec.ir import spec as S

RUNS = "runs"
REMOTE_PREFIXES = S.REMOTE_PREFIXES

# Order in which kinds appear in dvc.yaml when nothing else decides (topological order first).
KIND_ORDER = ["manifest", "tokenizer", "quality_model", "curate", "tokenize", "mix", "train", "dpo", "rlvr",
              "contamination", "eval", "report"]


@dataclass
class Node:
    id: str
    kind: str  # the runner: python -m runners.<kind>
    label: str
    config: dict[str, Any]  # semantic (hashed) + derived paths
    runtime: dict[str, Any] = field(default_factory=dict)
    upstream: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)  # files/folders outside runs/
    outs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    plots: list[str] = field(default_factory=list)
    always_changed: bool = False
    variants: list[str] = field(default_factory=list)
    # planning figures (not part of the config file)
    stage: str | None = None  # the spec block it comes from
    params: int | None = None
    tokens: int | None = None
    flops: float | None = None
    gpu_hours: float | None = None
    price: float | None = None
    throughput: float | None = None  # tokens/s/GPU the spec declares
    gpu: str | None = None  # the spec's `runtime { gpu }`

    @property
    def out_dir(self) -> str:
        return f"{RUNS}/{self.id}"


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    variants: dict[str, list[str]] = field(default_factory=dict)  # variant -> node ids in order

    def add(self, node: Node, variant: str) -> Node:
        have = self.nodes.get(node.id)
        if have is None:
            self.nodes[node.id] = node
            have = node
        if variant not in have.variants:
            have.variants.append(variant)
        ids = self.variants.setdefault(variant, [])
        if have.id not in ids:
            ids.append(have.id)
        return have

    def ordered(self) -> list[Node]:
        """Topological order, ties broken by (kind, label, id): independent of spec block order."""
        indeg = {n: 0 for n in self.nodes}
        down: dict[str, list[str]] = {n: [] for n in self.nodes}
        for n in self.nodes.values():
            for u in set(n.upstream):
                indeg[n.id] += 1
                down[u].append(n.id)

        def key(i: str):
            n = self.nodes[i]
            return (KIND_ORDER.index(n.kind) if n.kind in KIND_ORDER else 99, n.label, n.id)

        ready = sorted([i for i, d in indeg.items() if d == 0], key=key)
        out: list[Node] = []
        while ready:
            i = ready.pop(0)
            out.append(self.nodes[i])
            for d in down[i]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    ready.append(d)
            ready.sort(key=key)
        return out


def source_files(src: S.Source, spec_dir: Path, root: Path) -> tuple[str | None, list[str], bool]:
    """(path for the runner, DVC deps, remote?) of a source. Local paths are relative to the spec
    file; a glob depends on its longest folder prefix (DVC cannot track a glob)."""
    raw = src.path or src.dataset or ""
    if raw.startswith(REMOTE_PREFIXES) or (src.dataset and not (spec_dir / raw).exists()):
        return raw, [], True
    p = Path(raw)
    full = p if p.is_absolute() else (spec_dir / p)
    rel = _relpath(full, root)
    if globmod.has_magic(rel):
        parts = Path(rel).parts
        prefix = []
        for part in parts:
            if globmod.has_magic(part):
                break
            prefix.append(part)
        dep = str(Path(*prefix)) if prefix else "."
        return rel, [dep], False
    return rel, [rel], False


def _relpath(p: Path, root: Path) -> str:
    import os

    return os.path.relpath(os.path.normpath(os.path.abspath(p)), os.path.abspath(root))


def make_node(kind: str, label: str, config: dict, upstream: list[Node], **kw) -> Node:
    digest = stage_hash(kind, config, [u.id for u in upstream])
    nid = stage_id(label, digest)
    node = Node(id=nid, kind=kind, label=label, config=dict(config), upstream=[u.id for u in upstream], **kw)
    node.outs = [f"{RUNS}/{nid}/{o}" for o in kw.get("outs", [])] if kw.get("outs") else []
    node.metrics = [f"{RUNS}/{nid}/{m}" for m in kw.get("metrics", [])] if kw.get("metrics") else []
    node.plots = [f"{RUNS}/{nid}/{p}" for p in kw.get("plots", [])] if kw.get("plots") else []
    return node
