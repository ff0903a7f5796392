"""Syntax tree -> resolved Spec: block kinds, fields and units, references, and semantic checks.

Everything found wrong is collected and raised together (one error per problem, all in one run):
unknown kinds and fields (did-you-mean), values without their unit, references to undefined names
or to a block of the wrong kind, stage cycles, mix shares that do not add up to 100%, repetition
caps the sources cannot meet, inconsistent architectures, budgets that give zero steps.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import ValidationError

from olmospec import ast, units
from olmospec.arch import GPU_PEAK_BF16_FLOPS
from olmospec.body import Body
from olmospec.errors import Diagnostics, Pos, SpecError, did_you_mean
from olmospec.ir import spec as S
from olmospec.ir.train import OptimizerConfig
from olmospec.resolve_blocks import (
    read_curate,
    read_eval,
    read_mix,
    read_model,
    read_report,
    read_source,
    read_stage,
    read_task,
    read_tokenizer,
)
from olmospec.seeds import read_seeds_for

TOP_KINDS = {
    "olmospec", "import", "tokenizer", "source", "curate", "mix", "model", "stage", "task", "eval",
    "ablation", "sweep", "report", "runtime",
}
TOP_FIELDS = {"seeds", "seeds_from"}



class Names:
    """Every named block, for reference checks with did-you-mean and wrong-kind messages."""

    def __init__(self):
        self.kind: dict[str, str] = {}
        self.pos: dict[str, Pos] = {}
        self.misspelled: set[str] = set()  # names reported as misspellings: never suggested

    def add(self, name: str, kind: str, pos: Pos, diags: Diagnostics) -> bool:
        if name in self.kind:
            diags.error(pos, f"'{name}' is already defined as a {self.kind[name]} at line {self.pos[name].line}")
            return False
        self.kind[name] = kind
        self.pos[name] = pos
        return True

    def check(self, name: str, pos: Pos, expected: tuple[str, ...], diags: Diagnostics) -> bool:
        want = " or ".join(expected)
        got = self.kind.get(name)
        if got is None:
            candidates = {n for n, k in self.kind.items() if k in expected} - self.misspelled
            diags.error(pos, f"unknown {want} '{name}'{did_you_mean(name, candidates)}")
            return False
        if got not in expected:
            diags.error(pos, f"'{name}' is a {got}, expected a {want}")
            return False
        return True



def resolve(items: tuple[ast.Item, ...], file: str, warnings: list | None = None) -> S.Spec:
    """Resolve a merged item list (imports already inlined; ablations not yet applied). Warnings are
    appended to `warnings` when given (errors are raised, with the warnings found so far)."""
    diags = Diagnostics()
    try:
        return _resolve(items, file, diags)
    finally:
        if warnings is not None:
            warnings.extend(diags.warnings)


def _resolve(items: tuple[ast.Item, ...], file: str, diags: Diagnostics) -> S.Spec:
    names = Names()
    blocks: dict[str, list[ast.Section]] = {k: [] for k in TOP_KINDS}
    top = Body("the spec", tuple(i for i in items if isinstance(i, ast.Assign)), diags, TOP_FIELDS)
    for item in items:
        if isinstance(item, ast.Section):
            if item.kind not in TOP_KINDS:
                diags.error(item.pos, f"unknown block kind '{item.kind}'{did_you_mean(item.kind, TOP_KINDS)}")
                continue
            blocks[item.kind].append(item)

    version = 1
    for sec in blocks["olmospec"]:
        try:
            version = units.integer(sec.atom) if sec.atom is not None else 0
        except SpecError as e:
            diags.add(e)
        if version != 1:
            diags.error(sec.pos, f"this olmospec understands language version 1, not {version}")

    def named(sec: ast.Section, kind: str) -> str | None:
        if sec.name is None:
            diags.error(sec.pos, f"a {kind} block needs a name: '{kind} NAME {{ ... }}'")
            return None
        if sec.kind not in ("ablation", "sweep", "report") and not names.add(sec.name, kind, sec.atom.pos, diags):
            return None
        return sec.name

    tokenizers, sources, curations, mixes, models, tasks = {}, {}, {}, {}, {}, {}
    model_tok: dict[str, tuple[str, Pos]] = {}
    external: dict[str, S.ExternalModel] = {}
    readers = []
    for kind, table, reader in (
        ("tokenizer", tokenizers, read_tokenizer),
        ("source", sources, read_source),
        ("curate", curations, read_curate),
        ("mix", mixes, read_mix),
        ("task", tasks, read_task),
    ):
        for sec in blocks[kind]:
            n = named(sec, "curation" if kind == "curate" else kind)
            if n:
                readers.append((table, n, reader, sec))
    for sec in blocks["model"]:
        n = named(sec, "model")
        if n:
            readers.append((models, n, None, sec))
    stage_secs: dict[str, ast.Section] = {}
    for sec in blocks["stage"]:
        n = named(sec, "stage")
        if n:
            stage_secs[n] = sec
    eval_secs = {}
    for sec in blocks["eval"]:
        n = named(sec, "eval")
        if n:
            eval_secs[n] = sec

    for table, n, reader, sec in readers:
        if reader is None:  # model
            got = read_model(n, sec, diags)
            if isinstance(got, S.ExternalModel):
                external[n] = got
                names.kind[n] = "model"
            elif got is not None:
                cfg, tok = got
                models[n] = cfg
                if tok:
                    model_tok[n] = tok
            continue
        obj = reader(n, sec, diags)
        if obj is not None:
            table[n] = _rebase(obj, sec.pos.file, file)

    stages = {n: read_stage(n, sec, diags) for n, sec in stage_secs.items()}
    stages = {n: s for n, s in stages.items() if s is not None}
    _misspelled_stage_kinds(stage_secs, stages, names)
    evals = {n: read_eval(n, sec, diags) for n, sec in eval_secs.items()}
    evals = {n: e for n, e in evals.items() if e is not None}
    reports = {}
    for sec in blocks["report"]:
        if sec.name:
            r = read_report(sec.name, sec, diags)
            if r is not None:
                reports[sec.name] = r
        else:
            diags.error(sec.pos, "a report block needs a name: 'report NAME { ... }'")

    runtime = S.GlobalRuntime()
    for sec in blocks["runtime"]:
        b = Body("runtime", sec.body, diags, {"gpu", "price"})
        gpu = b.get("gpu", units.string, "H100")
        if gpu not in GPU_PEAK_BF16_FLOPS:
            diags.error(b.value("gpu").pos, f"unknown GPU '{gpu}'{did_you_mean(gpu, set(GPU_PEAK_BF16_FLOPS))} "
                        f"(known: {', '.join(GPU_PEAK_BF16_FLOPS)}; `olmospec plan` uses its peak FLOP/s)")
            gpu = "H100"
        runtime = S.GlobalRuntime(gpu=gpu, price=b.get("price", units.price, None))

    seeds = top.get("seeds", units.list_of(units.integer), (0,))
    if seeds is not None and len(set(seeds)) != len(seeds):
        diags.error(top.pos_of("seeds"), "seeds are listed twice")
    seeds_from = top.get("seeds_from", units.name, None)
    seeds_for = read_seeds_for(top.assigns.get("seeds"), seeds, diags)

    refs = _References(names, diags)
    refs.check_all(tokenizers, sources, curations, mixes, model_tok, stages, stage_secs, evals, eval_secs,
                   blocks["curate"], blocks["mix"], tasks, external)
    if seeds_from is not None and seeds_from not in stages:
        diags.error(top.pos_of("seeds_from"), f"unknown stage '{seeds_from}'{did_you_mean(seeds_from, set(stages))}")

    stages, broken = _inherit(stages, stage_secs, models, model_tok, diags)
    _check_vocab(models, model_tok, tokenizers, diags)
    from olmospec.checks import check_semantics, check_upsample_units

    unknown_models = {n for n, st in stages.items() if st.model and names.kind.get(st.model) != "model"}
    check_semantics(sources, curations, mixes, models, stages, stage_secs, blocks["mix"], diags, broken,
                    unknown_models)
    check_upsample_units(curations, tokenizers, blocks["curate"], diags)
    diags.raise_if_any()
    try:
        return S.Spec(
            file=file, version=version, tokenizers=tokenizers, sources=sources, curations=curations,
            mixes=mixes, models=models, model_tokenizers={k: v[0] for k, v in model_tok.items()},
            external_models=external, stages=stages, tasks=tasks, evals=evals, reports=reports,
            seeds=tuple(seeds or (0,)), seeds_from=seeds_from, seeds_for=seeds_for, runtime=runtime,
        )
    except ValidationError as e:  # a bug in a reader, not a user error; still never a traceback
        raise SpecError(Pos(file, 0, 0), f"internal: spec failed validation: {e}") from None


def _rebase(obj, defined_in: str, top: str):
    """A relative path is relative to the file that writes it; graph code resolves paths against
    the top-level spec's folder, so a path from an imported file is rewritten to stay correct."""
    field = "path"
    path = getattr(obj, field, None)
    if not isinstance(path, str) or not path or os.path.isabs(path) or path.startswith(S.REMOTE_PREFIXES):
        return obj
    here, there = os.path.dirname(os.path.abspath(defined_in)), os.path.dirname(os.path.abspath(top))
    if here == there:
        return obj
    local = os.path.normpath(os.path.join(here, path))
    if isinstance(obj, S.Tokenizer) and not os.path.exists(local):
        return obj  # an HF id such as "allenai/dolma2-tokenizer"
    return obj.model_copy(update={field: os.path.relpath(local, there)})


class _References:
    def __init__(self, names: Names, diags: Diagnostics):
        self.names = names
        self.diags = diags

    def ref(self, name: str | None, pos: Pos, *kinds: str) -> bool:
        if name is None:
            return False
        return self.names.check(name, pos, kinds, self.diags)

    def check_all(self, tokenizers, sources, curations, mixes, model_tok, stages, stage_secs, evals, eval_secs,
                  curate_secs, mix_secs, tasks, external):
        from olmospec.resolve_blocks import ref_positions, step_kind

        for n, t in tokenizers.items():
            if t.train:
                for s, pos in ref_positions(t.train.sources, self.names.pos[n]):
                    self.ref(s, pos, "source", "curation")
        for sec in curate_secs:
            c = curations.get(sec.name or "")
            if c is None:
                continue
            clause = sec.clause("from")
            if clause is None:
                self.diags.error(sec.pos, f"curation '{c.name}' needs a source: 'curate {c.name} from SOURCE {{...}}'")
            for s, pos in ref_positions(c.sources, clause.pos if clause else sec.pos, clause.value if clause else None):
                self.ref(s, pos, "source", "curation")
            cycle = curation_cycle(c.name, curations)
            if cycle:
                self.diags.error(clause.pos if clause else sec.pos, f"curation cycle: {' -> '.join(cycle)}")
            # each name at its own position inside the step's body
            values = {(step_kind(i), a.key): a.value for i in sec.body or () if isinstance(i, ast.Section)
                      for a in i.body or () if isinstance(a, ast.Assign)}
            for step in c.steps:
                if isinstance(step, S.QualityStep):
                    for field in ("positive", "negative"):
                        for s, pos in ref_positions(getattr(step, field), sec.pos, values.get(("quality", field))):
                            self.ref(s, pos, "source", "curation")
                if isinstance(step, S.DecontaminateStep):
                    for s, pos in ref_positions(step.against, sec.pos, values.get(("decontaminate", "against"))):
                        if s != "evals":  # every task the spec's evals use
                            self.ref(s, pos, "task")
        for sec in mix_secs:
            m = mixes.get(sec.name or "")
            if m is None:
                continue
            entry_pos = {i.kind: i.pos for i in sec.body or () if isinstance(i, ast.Section)}
            for e in m.entries:
                self.ref(e.name, entry_pos.get(e.name, sec.pos), "source", "curation", "mix")
        for n, (tok, pos) in model_tok.items():
            self.ref(tok, pos, "tokenizer")
        for n, st in stages.items():
            sec = stage_secs[n]
            b = {a.key: a.value.pos for a in sec.body or () if isinstance(a, ast.Assign)}
            if st.after:
                self.ref(st.after, sec.clause("after").value.pos, "stage")
            if st.model:
                self.ref(st.model, b.get("model", sec.pos), "model")
            if st.data:
                self.ref(st.data, b.get("data", sec.pos), "mix", "source", "curation")
            if st.tokenizer:
                self.ref(st.tokenizer, b.get("tokenizer", sec.pos), "tokenizer")
            if st.dpo:
                self.ref(st.dpo.prompts, b.get("prompts", sec.pos), "source", "curation")
                if isinstance(st.dpo.pairs, S.DeltaPairs):
                    self.ref(st.dpo.pairs.chosen, b.get("pairs", sec.pos), "model", "stage")
                    self.ref(st.dpo.pairs.rejected, b.get("pairs", sec.pos), "model", "stage")
                else:  # a source or curation of pair records
                    self.ref(st.dpo.pairs, b.get("pairs", sec.pos), "source", "curation")
            if st.rlvr:
                self.ref(st.rlvr.prompts, b.get("prompts", sec.pos), "source", "curation")
        for n, ev in evals.items():
            sec = eval_secs[n]
            clause = sec.clause("after")
            for s, pos in ref_positions(ev.after, clause.pos if clause else sec.pos, clause.value if clause else None):
                self.ref(s, pos, "stage")
            tpos = {a.key: a.value for a in sec.body or () if isinstance(a, ast.Assign)}
            for t, pos in ref_positions(ev.tasks, sec.pos, tpos.get("tasks")):
                self.ref(t, pos, "task")
            if ev.haystack:
                self.ref(ev.haystack, tpos["haystack"].pos, "source", "curation")


def _misspelled_stage_kinds(stage_secs, stages, names: Names) -> None:
    """`stage pretrian { ... }` was reported with "did you mean 'pretrain'"; a reference to
    `pretrain` elsewhere is what the user meant, so it is not reported again (and 'pretrian' is
    never offered as a suggestion)."""
    import difflib

    for n, sec in stage_secs.items():
        if n in stages or n in S.STAGE_KINDS or any(isinstance(a, ast.Assign) and a.key == "kind" for a in sec.body or ()):
            continue
        meant = difflib.get_close_matches(n, S.STAGE_KINDS, n=1, cutoff=0.6)
        if meant and meant[0] not in names.kind:
            names.kind[meant[0]] = "stage"
            names.pos[meant[0]] = names.pos[n]
            names.misspelled.add(n)


def _inherit(stages, stage_secs, models, model_tok, diags) -> tuple[dict[str, S.Stage], set[str]]:
    """Later stages continue from `after`: they inherit the model, tokenizer, sequence length,
    batch and optimizer settings they do not set themselves. Stage cycles are errors. Also returns
    the stages whose `after` chain does not resolve (an unknown or broken stage, reported already)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(n: str, chain: list[str]) -> None:
        if state.get(n) == 2:
            return
        if state.get(n) == 1:
            cyc = chain[chain.index(n):] + [n]
            diags.error(stage_secs[n].pos, f"stage cycle: {' -> '.join(cyc)}")
            return
        state[n] = 1
        prev = stages[n].after
        if prev in stages:
            visit(prev, chain + [n])
        state[n] = 2
        order.append(n)

    for n in sorted(stages):
        visit(n, [])
    out: dict[str, S.Stage] = {}
    broken: set[str] = set()
    for n in order:
        st = stages[n]
        prev = out.get(st.after) if st.after else None
        if st.after and (prev is None or st.after in broken):
            broken.add(n)
        upd: dict[str, Any] = {}
        if prev is not None:
            for f in ("model", "tokenizer", "seq", "batch"):
                if getattr(st, f) is None and getattr(prev, f) is not None:
                    upd[f] = getattr(prev, f)
            if prev.optimizer is not None:
                if st.optimizer is None:
                    diags.error(stage_secs[n].pos, f"stage '{n}' needs a learning rate ('lr = ...')")
                else:
                    explicit = _explicit_optimizer_fields(stage_secs[n])
                    base = prev.optimizer.model_dump()
                    mine = st.optimizer.model_dump()
                    merged = {k: (mine[k] if k in explicit else base[k]) for k in base}
                    upd["optimizer"] = OptimizerConfig(**merged)
            if st.yarn is None and prev.yarn is not None:
                upd["yarn"] = prev.yarn
        elif st.kind not in ("pretrain", "dpo", "rlvr") and st.after is None and st.model is None:  # dpo, rlvr: read_stage
            diags.error(stage_secs[n].pos, f"stage '{n}' ({st.kind}) needs 'after STAGE' or a 'model'")
        if st.tokenizer is None and (upd.get("model") or st.model) in model_tok:
            upd["tokenizer"] = model_tok[upd.get("model") or st.model][0]
        out[n] = st.model_copy(update=upd) if upd else st
    return {n: out[n] for n in stages if n in out}, broken


def _check_vocab(models, model_tok, tokenizers, diags: Diagnostics) -> None:
    """The model's vocabulary must hold every id its tokenizer can produce."""
    for name, m in models.items():
        tok_ref = model_tok.get(name)
        t = tokenizers.get(tok_ref[0]) if tok_ref else None
        if t is None:
            continue
        tok_vocab = t.vocab or (t.train.vocab if t.train else None)
        if tok_vocab is None and m.vocab_size <= 1:
            diags.error(tok_ref[1], f"model '{name}' takes its vocabulary from tokenizer '{t.name}', which does not "
                                    "give one: set 'vocab = N' on the tokenizer or the model")
        elif tok_vocab is not None and m.vocab_size > 1 and m.vocab_size < tok_vocab:
            diags.error(tok_ref[1], f"model '{name}' has vocab = {m.vocab_size}, smaller than tokenizer "
                                    f"'{t.name}''s {tok_vocab}: token ids would fall outside the embedding")


def _explicit_optimizer_fields(sec: ast.Section) -> set[str]:
    fields = set()
    for item in sec.body or ():
        if isinstance(item, ast.Assign) and item.key in ("lr", "z_loss"):
            fields.add(item.key)
        if isinstance(item, ast.Section) and item.kind == "optimizer":
            fields |= {a.key for a in item.body or () if isinstance(a, ast.Assign)}
    return fields


__all__ = ["Names", "resolve"]


def curation_cycle(name: str, curations: dict[str, S.Curate]) -> list[str] | None:
    """The chain `name -> ... -> name` if curation `name` reads itself through `from`, else None."""
    from olmospec.cycles import cycle_through

    return cycle_through(name, lambda c: curations[c].sources if c in curations else [])
