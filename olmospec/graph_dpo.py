"""A DPO stage -> three graph nodes, so that DVC keys each on exactly what it reads:

    <stage>-pairs  (kind pairs)      delta pairs: the chosen and rejected models complete the prompts
                                     (with the sampling settings and seed), filtered (verifier on the
                                     chosen side); absent when the spec names a source of pairs
    <stage>-ref    (kind ref_logps)  the pairs tokenized with the policy's tokenizer and chat template,
                                     checked against the sequence length, length-controlled, split
                                     into train / held-out, and the reference model's summed and
                                     per-token-mean log-probs over completion tokens
    <stage>        (kind dpo)        the training stage: policy from `after`, the losses, beta, lr

The reference model is the policy's starting point (`after`). beta, the loss, the learning rate or
the schedule change only the last node; the reference model, the pairs, the tokenizer, the chat
template (both come with the reference model's `hf/` folder) or the sequence length rerun the
reference node; only prompts, models, sampling settings and filters rerun generation.
"""

from __future__ import annotations

from typing import Any

from olmospec.graph import Node, make_node, source_files
from olmospec.graph_train import _plan, _post_common, _runtime, _uniq, model_of
from olmospec.ir import spec as S


def _model_ref(b, name: str) -> tuple[dict[str, Any], list[Node], list[str]]:
    """A generating model: a stage's `hf/` export (an upstream node), a local folder the spec names
    (a file dependency), or an HF id (neither)."""
    if name in b.spec.external_models:
        raw = b.spec.external_models[name].path
        path, deps = raw, []
        if not raw.startswith(S.REMOTE_PREFIXES) and (b.spec_dir / raw).exists():
            path, deps, _ = source_files(S.Source(name=name, path=raw), b.spec_dir, b.root)
        return {"name": name, "path": path}, [], deps
    node = b.stage(name)
    return {"name": name, "path": f"{node.out_dir}/hf"}, [node], []


def pairs_node(b, st: S.Stage, prev: Node) -> Node:
    d = st.dpo
    prompts, p_ups, p_deps, remote = b.docs_input(d.prompts)
    chosen, c_ups, c_deps = _model_ref(b, d.pairs.chosen)
    rejected, r_ups, r_deps = _model_ref(b, d.pairs.rejected)
    sem = {
        "prompts": prompts, "chosen": chosen, "rejected": rejected,
        # prompts are chat messages; a model without a chat template is prompted with the policy's
        "template": f"{prev.out_dir}/hf",
        "sampling": {"temperature": d.temperature, "top_p": d.top_p, "max_new_tokens": d.max_response},
        "seed": st.seed or 0, "max_pairs": d.max_pairs, "verify": d.verify, "generator": d.generator,
    }
    deps = sorted(set(p_deps + c_deps + r_deps + (["runners/rlvr/verifiers.py"] if d.verify else [])))
    node = make_node("pairs", f"{st.name}-pairs", sem, _uniq([prev, *p_ups, *c_ups, *r_ups]), inputs=deps,
                     always_changed=remote, outs=["pairs.jsonl", "removed.jsonl", "rejects.jsonl"],
                     metrics=["stats.json"], stage=st.name)
    node.runtime = _runtime(st.runtime)
    node.tokens = d.max_pairs * 2 * d.max_response if d.max_pairs else None  # at most, generated
    return b.add(node)


def ref_node(b, st: S.Stage, prev: Node) -> Node:
    d = st.dpo
    if isinstance(d.pairs, S.DeltaPairs):
        pn = pairs_node(b, st, prev)
        pairs, ups, deps, remote = {"kind": "pairs", "path": f"{pn.out_dir}/pairs.jsonl"}, [pn], [], False
    else:
        pairs, ups, deps, remote = b.docs_input(d.pairs)
    sem = {"pairs": pairs, "model": f"{prev.out_dir}/hf", "seq_len": st.seq or 0,
           "length_control": d.length_control, "heldout": d.heldout,
           "max_pairs": None if isinstance(d.pairs, S.DeltaPairs) else d.max_pairs, "seed": st.seed or 0}
    node = make_node("ref_logps", f"{st.name}-ref", sem, _uniq([prev, *ups]), inputs=deps, always_changed=remote,
                     outs=["pairs.parquet", "removed.jsonl", "rejects.jsonl"], metrics=["stats.json"],
                     stage=st.name)
    node.runtime = _runtime(st.runtime)
    return b.add(node)


def dpo_node(b, st: S.Stage, prev: Node | None) -> Node:
    if prev is None:  # resolve reports it; a graph is never built from such a spec
        raise ValueError(f"stage '{st.name}' (dpo) needs 'after STAGE'")
    d = st.dpo
    ref = ref_node(b, st, prev)
    model = model_of(b, st)
    sem = {**_post_common(b, st, prev), "model": model.model_dump(mode="json") if model else None,
           "tokenizer": f"{prev.out_dir}/hf", "pairs": f"{ref.out_dir}/pairs.parquet", "loss": d.loss,
           "beta": d.beta, "label_smoothing": d.label_smoothing}
    node = make_node("dpo", st.name, sem, [prev, ref], outs=["hf", "checkpoints"], metrics=["metrics.json"],
                     plots=["plots/train.csv", "plots/eval.csv"])
    node.runtime = _runtime(st.runtime)
    tokens = d.max_pairs * 2 * st.seq if d.max_pairs and st.seq else None
    return _plan(node, b, st, model, tokens, st.seq)
