"""How each spec block becomes graph nodes, for one variant (graph.py merges variants).

Curations become one node per step (so an ablation that turns off upsampling reuses the dedup
nodes), mixes become one tokenize node per component plus a mix node, stages become one node each,
and an eval becomes one node per stage it follows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from olmospec.graph import Graph, Node, make_node, source_files
from olmospec.graph_dpo import dpo_node
from olmospec.graph_train import rlvr_node, train_node
from olmospec.ir import spec as S
from olmospec.mixes import flatten
from olmospec.variants import Experiment

DOCS = "docs"
CHECKPOINT_OUT = "hf"


class VariantBuilder:
    def __init__(self, g: Graph, variant: str, spec: S.Spec, spec_dir: Path, root: Path):
        self.g, self.v, self.spec, self.spec_dir, self.root = g, variant, spec, spec_dir, root
        self.memo: dict[tuple, Any] = {}

    def add(self, node: Node) -> Node:
        return self.g.add(node, self.v)

    # -- data -----------------------------------------------------------------------------
    def source_input(self, name: str) -> tuple[dict, list[str], bool]:
        src = self.spec.sources[name]
        path, deps, remote = source_files(src, self.spec_dir, self.root)
        cfg = {"kind": "source", "name": name, "path": path if src.path else None,
               "dataset": path if src.dataset else None, "split": src.split, "format": src.format,
               "text": src.text, "id": src.id}
        return cfg, deps, remote

    def docs_input(self, name: str) -> tuple[dict, list[Node], list[str], bool]:
        """The documents a name stands for: a source's files, or a curation's last step output."""
        if name in self.spec.sources:
            cfg, deps, remote = self.source_input(name)
            return cfg, [], deps, remote
        node = self.curation(name)
        if node is None:  # a curation without steps is its sources
            c = self.spec.curations[name]
            parts = [self.docs_input(s) for s in c.sources]
            return ({"kind": "union", "parts": [p[0] for p in parts]}, [u for p in parts for u in p[1]],
                    [d for p in parts for d in p[2]], any(p[3] for p in parts))
        return self.curation_output(name, node), [node], [], False

    def curation_output(self, name: str, node: Node) -> dict:
        """A curation step's output: its records keep the source's fields (a chat's `messages`), so
        the text field travels with it when it is not the default `text`."""
        cfg: dict[str, Any] = {"kind": "docs", "name": name, "path": f"{node.out_dir}/{DOCS}"}
        text = self.text_field(name)
        return {**cfg, "text": text} if text != "text" else cfg

    def text_field(self, name: str) -> str:
        """The text field of a source, or of a curation's (first) source."""
        if name in self.spec.sources:
            return self.spec.sources[name].text
        sources = self.spec.curations[name].sources
        return self.text_field(sources[0]) if sources else "text"

    def project_tokenizer(self) -> str | None:
        return next(iter(self.spec.tokenizers)) if len(self.spec.tokenizers) == 1 else None

    def manifest(self, name: str) -> Node:
        key = ("manifest", name)
        if key in self.memo:
            return self.memo[key]
        cfg, deps, remote = self.source_input(name)
        tok_name = self.project_tokenizer()
        tok_path, tok_nodes = self.tokenizer(tok_name) if tok_name else (None, [])
        # the license travels with the source's data card (manifest.json), so it reaches a published run
        mcfg = {"source": cfg, "tokenizer": tok_path, "license": self.spec.sources[name].license}
        node = self.add(make_node("manifest", f"manifest-{name}", mcfg, tok_nodes,
                                  inputs=deps, always_changed=remote, outs=["manifest.json"], metrics=["metrics.json"],
                                  stage=name))
        self.memo[key] = node
        return node

    def tokenizer(self, name: str) -> tuple[str, list[Node]]:
        key = ("tokenizer", name)
        if key in self.memo:
            return self.memo[key]
        t = self.spec.tokenizers[name]
        if t.train is None:
            out = (t.path or "", [])
        else:
            parts = [self.docs_input(s) for s in t.train.sources]
            cfg = {"train": t.train.model_dump(mode="json"), "inputs": [p[0] for p in parts]}
            node = self.add(make_node("tokenizer", f"tokenizer-{name}", cfg, [u for p in parts for u in p[1]],
                                      inputs=sorted({d for p in parts for d in p[2]}), outs=["tokenizer"],
                                      metrics=["metrics.json"], stage=name))
            out = (f"{node.out_dir}/tokenizer", [node])
        self.memo[key] = out
        return out

    def task_config(self, name: str) -> tuple[dict, list[str]]:
        t = self.spec.tasks[name]
        cfg = t.model_dump(mode="json")
        deps = []
        if t.path:
            p, d, _ = source_files(S.Source(name=name, path=t.path), self.spec_dir, self.root)
            cfg["path"] = p
            deps = d
        return cfg, deps

    def all_task_names(self) -> list[str]:
        return sorted({t for ev in self.spec.evals.values() for t in ev.tasks})

    def curation(self, name: str) -> Node | None:
        key = ("curate", name)
        if key in self.memo:
            return self.memo[key]
        c = self.spec.curations[name]
        parts = [self.docs_input(s) for s in c.sources]
        prev_cfg = parts[0][0] if len(parts) == 1 else {"kind": "union", "parts": [p[0] for p in parts]}
        prev_nodes = [u for p in parts for u in p[1]]
        deps = sorted({d for p in parts for d in p[2]})
        remote = any(p[3] for p in parts)
        node = None
        for step in c.steps:
            cfg: dict[str, Any] = {"step": step.model_dump(mode="json"), "input": prev_cfg}
            ups = list(prev_nodes)
            step_deps = list(deps)
            if isinstance(step, S.UpsampleStep) and step.words is None and self.project_tokenizer():
                # documents are weighted (and the target counted) in tokens of the project's tokenizer
                cfg["tokenizer"], tok_nodes = self.tokenizer(self.project_tokenizer())
                ups += tok_nodes
            if isinstance(step, S.QualityStep):
                qm = self.quality_model(step)
                cfg["classifier"] = f"{qm.out_dir}/model.bin"
                ups.append(qm)
            if isinstance(step, S.DecontaminateStep):
                against = self.all_task_names() if step.against == ("evals",) else list(step.against)
                tasks = [self.task_config(t) for t in against]
                cfg["step"]["against"] = against
                # only what decontamination reads: an eval-only setting (limit, metric) reruns nothing
                cfg["tasks"] = [{k: t[0][k] for k in ("name", "path")} for t in tasks]
                step_deps += [d for t in tasks for d in t[1]]
            node = self.add(make_node("curate", f"{name}-{step.kind}", cfg, ups, inputs=sorted(set(step_deps)),
                                      always_changed=remote and not prev_nodes, outs=[DOCS, "removed.jsonl", "rejects.jsonl"],
                                      metrics=["stats.json"], stage=name))
            prev_cfg = self.curation_output(name, node)
            prev_nodes, deps, remote = [node], [], False
        self.memo[key] = node
        return node

    def quality_model(self, step: S.QualityStep) -> Node:
        pos = [self.docs_input(s) for s in step.positive]
        neg = [self.docs_input(s) for s in step.negative]
        cfg = {"model": step.model, "positive": [p[0] for p in pos], "negative": [p[0] for p in neg]}
        label = "quality-" + "_".join(step.positive)
        return self.add(make_node("quality_model", label, cfg, [u for p in pos + neg for u in p[1]],
                                  inputs=sorted({d for p in pos + neg for d in p[2]}), outs=["model.bin"],
                                  metrics=["metrics.json"]))

    def tokenized(self, name: str, tok: str) -> Node:
        key = ("tokenize", name, tok)
        if key in self.memo:
            return self.memo[key]
        tok_path, tok_nodes = self.tokenizer(tok)
        cfg, ups, deps, remote = self.docs_input(name)
        # upsampled copies are written at least `spread` tokens apart: the longest sequence that reads them
        spread = max((st.seq or 0 for st in self.spec.stages.values() if st.data == name or (
            st.data in self.spec.mixes and name in {e for e, _, _ in self.flat_entries(st.data)})), default=0)
        node = self.add(make_node("tokenize", f"tokenize-{name}", {"input": cfg, "tokenizer": tok_path,
                                                                 "spread": spread},
                                  ups + tok_nodes, inputs=deps, always_changed=remote and not ups,
                                  outs=["shards", "rejects.jsonl"], metrics=["metrics.json"], stage=name))
        self.memo[key] = node
        return node

    def flat_entries(self, mix: str) -> list[tuple[str, float, float | None]]:
        """(component, share, cap) of a mix with nested mixes flattened (olmospec/mixes.py)."""
        return [(c.name, c.share, c.max_repeat) for c in flatten(mix, self.spec.mixes)]

    def mix(self, name: str, tok: str, budget: int | None) -> tuple[Node, list[dict]]:
        key = ("mix", name, tok, budget)
        if key in self.memo:
            return self.memo[key]
        comps, ups = [], []
        for ename, share, cap in self.flat_entries(name):
            tn = self.tokenized(ename, tok)
            ups.append(tn)
            comps.append({"name": ename, "path": f"{tn.out_dir}/shards", "share": round(share, 12), "max_repeat": cap})
        cfg = {"mix": name, "tokens": self.spec.mixes[name].tokens or budget, "components": comps}
        node = self.add(make_node("mix", f"mix-{name}", cfg, ups, outs=["mix.json", "mix_plan.json", "mix_plan.md"], metrics=["metrics.json"],
                                  stage=name))
        self.memo[key] = (node, comps)
        return node, comps

    # -- stages ---------------------------------------------------------------------------
    def stage(self, name: str) -> Node:
        key = ("stage", name)
        if key in self.memo:
            return self.memo[key]
        st = self.spec.stages[name]
        prev = self.stage(st.after) if st.after else None
        if st.kind in ("dpo",):
            node = dpo_node(self, st, prev)
        elif st.kind == "rlvr":
            node = rlvr_node(self, st, prev)
        else:
            node = train_node(self, st, prev)
        node = self.add(node)
        self.memo[key] = node
        return node

    def stage_data(self, st: S.Stage) -> list[str]:
        """The names (sources, curations) whose documents a stage trains on, mixes flattened."""
        name = st.dpo.prompts if st.dpo else st.rlvr.prompts if st.rlvr else st.data
        if name is None:
            return []
        return [e[0] for e in self.flat_entries(name)] if name in self.spec.mixes else [name]

    def lineage(self, stage: str) -> list[str]:
        out, cur = [], stage
        while cur is not None:
            out.append(cur)
            cur = self.spec.stages[cur].after
        return out[::-1]

    def contamination(self, stage: str) -> Node:
        """Evaluation items found in one stage's training data: shared by every eval of every model
        trained on the same documents (its identity is the documents' and the tasks')."""
        key = ("contamination", stage)
        if key in self.memo:
            return self.memo[key]
        parts = [(name, *self.docs_input(name)) for name in self.stage_data(self.spec.stages[stage])]
        tasks = [self.task_config(t) for t in self.all_task_names() if self.spec.tasks[t].path]
        cfg = {"stage": stage, "ngram": 8, "min_overlap": 0.5,
               "inputs": [{"name": p[0], "input": p[1]} for p in parts],
               "tasks": [{k: t[0][k] for k in ("name", "path", "type")} for t in tasks]}
        deps = sorted({d for p in parts for d in p[3]} | {d for t in tasks for d in t[1]})
        node = self.add(make_node("contamination", f"contamination-{stage}", cfg, [u for p in parts for u in p[2]],
                                  inputs=deps, always_changed=any(p[4] for p in parts), outs=["contamination.json"],
                                  metrics=["metrics.json"], stage=stage))
        self.memo[key] = node
        return node

    def eval(self, ev: S.Eval, stage: str) -> Node:
        model = self.stage(stage)
        tasks = [self.task_config(t) for t in ev.tasks]
        st = self.spec.stages[stage]
        ups, deps = [model], sorted({d for t in tasks for d in t[1]})
        cfg: dict[str, Any] = {"eval": ev.name, "stage": stage, "model": f"{model.out_dir}/{CHECKPOINT_OUT}",
                               "tasks": [t[0] for t in tasks], "seed": st.seed or 0, "batch": ev.batch,
                               "contamination": ev.contamination}
        outs = ["samples", "tasks", "results.json", "scores.json"]
        if ev.ruler:
            hay_cfg, hay_ups, hay_deps = (None, [], [])
            if ev.haystack:
                hay_cfg, hay_ups, hay_deps, _ = self.docs_input(ev.haystack)
            cfg["ruler"] = {"lengths": list(ev.ruler), "tasks": list(ev.ruler_tasks), "samples": ev.ruler_samples,
                            "haystack": hay_cfg}
            ups += hay_ups
            deps = sorted(set(deps) | set(hay_deps))
            outs.append("ruler")
        if ev.contamination == "check":
            checks = [self.contamination(s) for s in self.lineage(stage)]
            cfg["contamination_reports"] = [f"{c.out_dir}/contamination.json" for c in checks]
            ups += checks
            outs.append("contamination.json")
        runtime = {k: v for k, v in ev.runtime.model_dump().items() if v is not None}
        return self.add(make_node("eval", f"eval-{ev.name}-{stage}", cfg, ups, inputs=deps, outs=outs,
                                  metrics=["metrics.json"], runtime=runtime, stage=ev.name))

    def build(self) -> None:
        for s in sorted(self.spec.sources):
            self.manifest(s)
        for s in sorted(self.spec.stages):
            self.stage(s)
        for ev in sorted(self.spec.evals.values(), key=lambda e: e.name):
            for s in ev.after:
                self.eval(ev, s)


TRAIN_KINDS = ("train", "dpo", "rlvr")


def report_node(rep: S.Report, g: Graph, exp, root: Path) -> Node:
    """The report stage: reads every variant's eval and training outputs (listed here in pipeline
    order, so the runner never needs the spec) and writes the tables and plots."""
    rows = []
    ups: list[Node] = []
    order = list(exp.base.stages)
    # sorted, and without the deltas' text: block order and how a value is written change nothing
    for v in sorted(exp.variants, key=lambda v: (v.kind != "base", v.name)):
        ids = g.variants.get(v.name, [])
        stage_rank = {name: i for i, name in enumerate(v.spec.stages)}

        def entry(n: Node, stages=v.spec.stages) -> dict:
            stage = n.config.get("stage") if n.kind == "eval" else n.stage
            out = {"id": n.id, "dir": n.out_dir, "stage": stage, "kind": stages[stage].kind if stage in stages else None}
            if n.kind == "eval":
                ruler = n.config.get("ruler", {}).get("lengths", [])
                out |= {"eval": n.config["eval"],
                        "columns": [t["name"] for t in n.config["tasks"]] + [f"ruler@{length}" for length in ruler]}
            return out

        evals = sorted((g.nodes[i] for i in ids if g.nodes[i].kind == "eval"),
                       key=lambda n: (stage_rank.get(n.config["stage"], 99), n.label))
        trains = sorted((g.nodes[i] for i in ids if g.nodes[i].kind in TRAIN_KINDS),
                        key=lambda n: stage_rank.get(n.stage, 99))
        rows.append({"variant": v.name, "group": v.name.split("@seed")[0], "kind": v.kind, "seed": v.seed,
                     "evals": [entry(n) for n in evals], "stages": [entry(n) for n in trains]})
        ups += [n for n in [*evals, *trains] if n not in ups]
    import os

    spec = os.path.relpath(os.path.abspath(exp.file), os.path.abspath(root))
    cfg = {"report": rep.model_dump(mode="json"), "rows": rows, "stage_order": order, "spec": spec}
    # The runner also reads the evals' metrics and the training curves, which DVC records as metrics
    # and plots, not outs: listed as deps, so an eval rerun with new scores reruns the report.
    read = sorted({m for n in ups for m in n.metrics if n.kind == "eval"} | {p for n in ups for p in n.plots})
    return make_node("report", f"report-{rep.name}", cfg, ups, inputs=read, outs=["report"],
                     metrics=["metrics.json"], stage=rep.name)


def build_graph(exp: Experiment, root: Path) -> Graph:
    """Every variant's nodes in one graph; a node several variants share is added once."""
    g = Graph()
    spec_dir = Path(exp.file).parent
    for v in exp.variants:
        VariantBuilder(g, v.name, v.spec, spec_dir, root).build()
    for rep in exp.base.reports.values():
        g.add(report_node(rep, g, exp, root), "*")
    g.variants.pop("*", None)
    return g
