"""Training and RLVR stages -> graph nodes (DPO: graph_dpo.py), with their planning figures.

A training node's config is a `TrainConfig` (olmospec/ir/train.py) minus its runtime: the compiler
resolves inheritance, converts budgets to steps and warmup fractions to steps, and points the data
at the token shards of the mix's components, so the runner does no spec logic of its own.
"""

from __future__ import annotations

from typing import Any

from olmospec.graph import Node, make_node
from olmospec.ir import spec as S
from olmospec.ir.train import TrainConfig, TrainRuntime
from olmospec.plan import plan_node


def _runtime(rt: S.StageRuntime) -> dict[str, Any]:
    nproc = rt.procs_per_node or (max(1, (rt.gpus or 1) // max(rt.nodes, 1)) if rt.gpus else 1)
    out = TrainRuntime(nnodes=rt.nodes, nproc_per_node=nproc, launcher=rt.launcher, device=rt.device,
                       micro_batch=rt.micro_batch,
                       compile=rt.compile, activation_checkpointing=rt.activation_checkpointing, threads=rt.threads,
                       checkpoint_every=rt.checkpoint_every or 100, attention_impl=rt.attention_impl,
                       fused_optimizer=rt.fused_optimizer, reshard_after_forward=rt.reshard_after_forward,
                       fsdp_prefetch=rt.fsdp_prefetch)
    return out.model_dump(mode="json")


def _plan(node: Node, b, st: S.Stage, model, tokens: int | None, seq: int | None) -> Node:
    """Planning figures (tokens, FLOPs, GPU-hours): olmospec/plan.py; `tokens=None` estimates them."""
    return plan_node(node, b, st, model, tokens, seq)


def model_of(b, st: S.Stage):
    m = b.spec.models.get(st.model or "")
    if m is None:
        return None
    if m.vocab_size <= 1 and st.tokenizer in b.spec.tokenizers:  # vocabulary from the tokenizer
        t = b.spec.tokenizers[st.tokenizer]
        vocab = t.vocab or (t.train.vocab if t.train else None)
        if vocab:
            m = m.model_copy(update={"vocab_size": vocab, "vocab_pad_to": max(m.vocab_pad_to, t.pad_to)})
    return m


def _steps_and_schedule(st: S.Stage, batch_seqs: int, seq: int) -> tuple[int | None, dict]:
    steps = st.steps
    if steps is None and st.tokens:
        steps = st.tokens // (batch_seqs * seq)
    sch = st.schedule or S.ScheduleSpec(kind="constant")
    unit, amount = sch.warmup
    out = {"kind": sch.kind, "warmup_steps": 0, "final": sch.final, "decay": sch.decay}
    if unit == "steps":
        out["warmup_steps"] = int(amount)
    elif steps:
        out["warmup_steps"] = round(amount * steps)
    else:  # an epoch budget: the runner knows the step count
        out["warmup_fraction"] = amount
    return steps, out


def _batch_seqs(st: S.Stage, seq: int) -> int:
    if st.batch is None:
        return 1
    unit, n = st.batch
    return max(1, n // seq) if unit == "tokens" else n


def _data(b, st: S.Stage, tok: str) -> tuple[list[dict], list[Node], int | None]:
    if st.kind == "sft":
        return _chat_data(b, st)
    if st.data not in b.spec.mixes:
        tn = b.tokenized(st.data, tok)
        return [{"name": st.data, "path": f"{tn.out_dir}/shards", "share": 1.0}], [tn], None
    mix_node, comps = b.mix(st.data, tok, st.tokens)
    return ([{k: c[k] for k in ("name", "path", "share", "max_repeat")} for c in comps],
            [mix_node] + [u for u in (b.g.nodes[i] for i in mix_node.upstream)], None)


def _chat_data(b, st: S.Stage) -> tuple[list[dict], list[Node], int | None]:
    """SFT reads chat records where the data name points: a source's files or HF dataset (with its
    split), or a curation's output; a curation without steps is one component per source."""
    cfg, ups, _, _ = b.docs_input(st.data)
    parts = cfg["parts"] if cfg.get("kind") == "union" else [cfg]
    comps = [{"name": p.get("name") or st.data, "path": p.get("path") or p.get("dataset"), "share": 1.0 / len(parts),
              "records": p} for p in parts]
    return comps, ups, None


def train_node(b, st: S.Stage, prev: Node | None) -> Node:
    model = model_of(b, st)
    tok_path, tok_nodes = b.tokenizer(st.tokenizer) if st.tokenizer else ("", [])
    seq = st.seq or 0
    batch_seqs = _batch_seqs(st, seq) if seq else 1
    steps, schedule = _steps_and_schedule(st, batch_seqs, seq) if seq else (st.steps, {"kind": "constant"})
    data, data_nodes, _ = _data(b, st, st.tokenizer or "")
    ups = ([prev] if prev else []) + tok_nodes + data_nodes
    deps: list[str] = []
    remote = False
    if st.kind == "sft":  # files outside runs/ (a source's, a step-less curation's) are direct deps
        _, _, deps, remote = b.docs_input(st.data)
    sem = {
        "kind": st.kind, "model": model.model_dump(mode="json") if model else None, "tokenizer": tok_path,
        "init_from": prev.out_dir if prev else None, "data": data, "seq_len": seq, "batch_seqs": batch_seqs,
        "steps": steps if st.kind != "sft" or st.epochs is None else None, "epochs": st.epochs,
        "optimizer": st.optimizer.model_dump(mode="json") if st.optimizer else None, "schedule": schedule,
        "yarn": st.yarn.model_dump(mode="json") if st.yarn else None, "seed": st.seed or 0,
        "doc_mask": st.kind == "sft" if st.doc_mask is None else st.doc_mask,  # packed chats never attend across
    }
    # a hub dataset has no files DVC can hash: the stage reruns every time, as curation of one does
    node = make_node("train", st.name, sem, _uniq(ups), inputs=deps, always_changed=remote,
                     outs=["hf", "checkpoints"] + (["rejects.jsonl"] if st.kind == "sft" else []),
                     metrics=["metrics.json"], plots=["plots/train.csv"])
    node.runtime = _runtime(st.runtime)
    # Validate now: a config the runner would reject is a compiler bug, better found at compile time.
    TrainConfig.model_validate({**sem, "stage_id": node.id, "output": node.out_dir, "runtime": node.runtime})
    tokens = steps * batch_seqs * seq if steps and seq else None  # else (SFT epochs) plan.py estimates
    return _plan(node, b, st, model, tokens, seq or None)


def _uniq(nodes: list[Node]) -> list[Node]:
    seen, out = set(), []
    for n in nodes:
        if n.id not in seen:
            seen.add(n.id)
            out.append(n)
    return out


def _post_common(b, st: S.Stage, prev: Node | None) -> dict[str, Any]:
    seq = st.seq or 0
    return {
        "kind": st.kind, "init_from": prev.out_dir if prev else None,
        "tokenizer": b.tokenizer(st.tokenizer)[0] if st.tokenizer else "",
        "seq_len": seq, "batch_seqs": _batch_seqs(st, seq) if seq else (st.batch[1] if st.batch else 1),
        "steps": st.steps, "epochs": st.epochs,
        "optimizer": st.optimizer.model_dump(mode="json") if st.optimizer else None,
        "schedule": _steps_and_schedule(st, _batch_seqs(st, seq) if seq else 1, seq or 1)[1],
        "seed": st.seed or 0,
    }


def rlvr_node(b, st: S.Stage, prev: Node | None) -> Node:
    """An RlvrConfig (olmospec/ir/rlvr.py), validated here like a training stage's config."""
    from olmospec.ir.rlvr import RlvrConfig

    r = st.rlvr
    prompts, p_ups, p_deps, _ = b.docs_input(r.prompts)
    tok_path, tok_nodes = b.tokenizer(st.tokenizer) if st.tokenizer else ("", [])
    model = model_of(b, st)
    common = _post_common(b, st, prev)
    sem = {
        "kind": "rlvr", "model": model.model_dump(mode="json") if model else None, "tokenizer": tok_path,
        "init_from": prev.out_dir if prev else None, "prompts": prompts, "steps": st.steps,
        "optimizer": common["optimizer"], "schedule": common["schedule"], "seed": common["seed"],
        **r.model_dump(mode="json", exclude={"prompts", "refills", "retire"}),
        "max_refills": r.refills, "retire_above": r.retire,
    }
    node = make_node("rlvr", st.name, sem, _uniq(([prev] if prev else []) + tok_nodes + p_ups), inputs=p_deps,
                     outs=["hf", "checkpoints", "rejects.jsonl"], metrics=["metrics.json"], plots=["plots/train.csv"])
    node.runtime = _runtime(st.runtime)
    RlvrConfig.model_validate({**sem, "stage_id": node.id, "output": node.out_dir, "runtime": node.runtime})
    # Learner tokens: every sampled completion at its maximum length (an upper bound).
    tokens = st.steps * r.prompts_per_batch * r.group * r.max_response if st.steps else None
    return _plan(node, b, st, model, tokens, r.max_response)
