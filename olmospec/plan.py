"""What a spec will cost: per stage parameters, tokens, FLOPs, MFU, GPU-hours and price; per variant
its own total and its cost beyond the stages it shares with the base (`olmospec plan [--variant V]`).

FLOPs are 6·N·D plus the attention term (windowed for sliding layers), from `olmospec.arch`, the same
formula the training runner uses for MFU. GPU-hours come from the stage's declared throughput
(`runtime { throughput = 7700 tok/s/gpu }`): tokens / throughput / 3600; the MFU that throughput
implies is throughput x FLOPs per token / the peak FLOP/s of the spec's GPU (`runtime { gpu }`).
A stage that runs a model but declares no throughput has no GPU-hours: it is listed beside every
total ("2 stages have no throughput: sft, dpo"), never silently counted as free.

Tokens: pretraining-style stages from their budget (steps x batch x seq); SFT from its data's size
(the manifest's token count once the source's manifest stage has run, else the declared `tokens`)
times its epochs; DPO from its pairs (`max_pairs`, else the prompts' document count) x 2 responses x
seq (an upper bound: every response at full length); RLVR from steps x prompts x group x
max_response (also an upper bound). Node builders call `plan_node` to set these figures.
"""

from __future__ import annotations

import json

from olmospec import arch
from olmospec.graph import Graph, Node
from olmospec.ir import spec as S

RUNNER_OF_STAGE = ("train", "dpo", "rlvr")  # runners whose config names the spec's stage kind


# -- planning figures of one node ---------------------------------------------------------------
def plan_node(node: Node, b, st: S.Stage, model, tokens: int | None, seq: int | None) -> Node:
    """Set a stage node's planning figures (tokens estimated from the spec when not given)."""
    node.stage = st.name
    node.params = arch.param_count(model) if model is not None else None
    node.tokens = tokens if tokens is not None else estimate_tokens(b, st)
    if node.tokens and seq and model is not None:
        node.flops = float(arch.flops_per_token(model, seq)) * node.tokens
    node.throughput = st.runtime.throughput
    node.gpu = b.spec.runtime.gpu
    if node.tokens and node.throughput:
        node.gpu_hours = node.tokens / node.throughput / 3600
        price = st.runtime.price or b.spec.runtime.price
        node.price = node.gpu_hours * price if price is not None else None
    return node


def estimate_tokens(b, st: S.Stage) -> int | None:
    """Tokens a post-training stage processes, from manifests, declared sizes or its budget."""
    seq = st.seq or 0
    batch = (st.batch[1] if st.batch[0] == "seqs" else max(1, st.batch[1] // max(seq, 1))) if st.batch else 1
    if st.kind == "dpo" and st.dpo is not None and seq:
        if st.steps:
            return st.steps * batch * 2 * seq
        pairs = st.dpo.max_pairs or _size(b, st.dpo.prompts, "docs")
        return int(pairs * (st.epochs or 1) * 2 * seq) if pairs else None
    if st.kind == "rlvr" and st.rlvr is not None and st.steps:
        r = st.rlvr
        return st.steps * r.prompts_per_batch * r.group * r.max_response
    if st.steps and seq:
        return st.steps * batch * seq
    if st.epochs and st.data:
        size = _size(b, st.data, "tokens")
        return int(size * st.epochs) if size else None
    return None


def _size(b, name: str, what: str) -> int | None:
    """Tokens or docs of a source or curation: its manifests on disk, else its declared size."""
    spec = b.spec
    if name in spec.curations:
        c = spec.curations[name]
        declared = c.tokens if what == "tokens" else None
        parts = [_size(b, s, what) for s in c.sources]
        return declared or (sum(parts) if parts and all(p is not None for p in parts) else None)
    if name not in spec.sources:
        return None
    m = b.root / b.manifest(name).out_dir / "manifest.json"
    try:
        got = json.loads(m.read_text(encoding="utf-8"))["totals"].get(what)
        if isinstance(got, int):
            return got
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return getattr(spec.sources[name], what)


# -- the plan of a graph --------------------------------------------------------------------------
def stage_kind(n: Node) -> str:
    """The kind the spec says (pretrain, sft, minhash, ...), not the runner (train, curate)."""
    kind = n.config.get("kind")
    if n.kind in RUNNER_OF_STAGE and isinstance(kind, str):
        return kind
    if n.kind == "curate" and isinstance(n.config.get("step"), dict):
        return str(n.config["step"].get("kind", n.kind))
    return n.kind


def _cost(n: Node, price: float | None) -> float | None:
    return n.gpu_hours * price if (price is not None and n.gpu_hours) else n.price


def totals(nodes: list[Node], price: float | None) -> dict:
    """Sums over distinct stages, with the stages that run a model but have no GPU-hours."""
    out = {"stages": len(nodes), "tokens": 0, "flops": 0.0, "gpu_hours": 0.0, "cost_usd": 0.0, "unpriced": []}
    unpriced: dict[str, int] = {}
    for n in nodes:
        out["tokens"] += n.tokens or 0
        out["flops"] += n.flops or 0.0
        out["gpu_hours"] += n.gpu_hours or 0.0
        out["cost_usd"] += _cost(n, price) or 0.0
        if n.params is not None and not n.gpu_hours:
            unpriced[n.label] = unpriced.get(n.label, 0) + 1
    out["unpriced"] = [{"name": k, "stages": v} for k, v in unpriced.items()]
    return out


def groups(names: list[str]) -> list[str]:
    """What a user can ask about: base, each ablation and sweep, each sweep point (spec order)."""
    from olmospec.variant_names import split

    out: list[str] = []
    for n in names:
        family, group, _ = split(n)
        for x in (family, group):
            if x not in out:
                out.append(x)
    return sorted(out, key=lambda x: x != "base")


def variant_cost(g: Graph, query: str, price: float | None, base: set[str] | None = None) -> dict:
    """A variant's (or group's) own total and its cost beyond the stages it shares with `base`
    (default: every stage of the base variants)."""
    from olmospec.variant_names import select_variants

    names = select_variants(list(g.variants), query)
    mine = {i for v in names for i in g.variants[v]}
    if base is None:
        base = {i for v in select_variants(list(g.variants), "base") for i in g.variants[v]}
    ordered = [n for n in g.ordered() if n.id in mine]
    return {"name": query, "variants": names, "total": totals(ordered, price),
            "beyond_base": totals([n for n in ordered if n.id not in base], price)}


def plan_json(g: Graph, price: float | None = None, variant: str | None = None, gpu: str | None = None) -> dict:
    """The whole plan; with `variant`, only that variant's stages (and its cost beyond the base)."""
    from olmospec.variant_names import select_variants

    names = select_variants(list(g.variants), variant) if variant else list(g.variants)
    keep = {i for v in names for i in g.variants[v]} if variant else set(g.nodes)
    gpu = gpu or next((n.gpu for n in g.nodes.values() if n.gpu), None) or "H100"
    peak = arch.GPU_PEAK_BF16_FLOPS.get(gpu)
    nodes = [n for n in g.ordered() if n.id in keep]
    stages = []
    for n in nodes:
        per_token = n.flops / n.tokens if n.flops and n.tokens else None
        mfu = n.throughput * per_token / peak if (n.throughput and per_token and peak) else None
        stages.append({
            "id": n.id, "name": n.label, "kind": stage_kind(n), "runner": n.kind, "variants": sorted(n.variants),
            "params": n.params, "tokens": n.tokens, "flops": n.flops, "throughput": n.throughput, "mfu": mfu,
            "gpu_hours": n.gpu_hours, "cost_usd": _cost(n, price),
        })
    return {"gpu": {"name": gpu, "peak_bf16_flops": peak},
            "variants": [{"name": v, "stages": g.variants[v]} for v in names],
            "stages": stages, "total": totals(nodes, price),
            "groups": [variant_cost(g, q, price) for q in ([variant] if variant else groups(list(g.variants)))]}
