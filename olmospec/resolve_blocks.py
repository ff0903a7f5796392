"""One reader per block kind: a Section of the syntax tree -> its IR object (or None after errors).

Field tables live here, next to the code that reads them, so that the language reference
(docs/LANGUAGE.md) and the checks cannot drift apart: `olmospec schema` prints the IR they build.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from olmospec import ast, units
from olmospec.body import Body
from olmospec.errors import Diagnostics, Pos, SpecError, did_you_mean
from olmospec.ir import spec as S
from olmospec.ir.model import ModelConfig, YarnConfig
from olmospec.ir.train import OptimizerConfig

_OFF = object()  # a setting written `off`: None in the IR, where an absent setting keeps its default


def _build(cls, diags: Diagnostics, pos: Pos, **kw):
    try:
        return cls(**{k: (None if v is _OFF else v) for k, v in kw.items() if v is not None})
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"])
            diags.error(pos, f"{loc}: {err['msg']}")
        return None


def ref_positions(names, default: Pos, value: ast.Value | None = None):
    """Pairs (name, position) for a list of references, using the list items' positions."""
    items = value.items if isinstance(value, ast.ListV) else ((value,) if value is not None else ())
    pos = [i.pos for i in items]
    return [(n, pos[i] if i < len(pos) else default) for i, n in enumerate(names)]


def read_tokenizer(name: str, sec: ast.Section, diags: Diagnostics):
    b = Body(f"tokenizer '{name}'", sec.body, diags,
             {"path", "hf", "vocab", "pad_to", "train", "data", "min_frequency", "split_digits", "max_docs"})
    train = b.get("train", units.word("bpe"), None)
    path = b.get("path", units.string, None) or b.get("hf", units.string, None)
    if train and path:
        diags.error(sec.pos, f"tokenizer '{name}' sets both 'train' and 'path': pick one")
    if not train and not path:
        diags.error(sec.pos, f"tokenizer '{name}' needs 'path = \"...\"' (a folder or HF id) or 'train = bpe'")
    vocab = b.get("vocab", units.positive_int, None)
    tt = None
    if train:
        if vocab is None:
            diags.error(sec.pos, f"tokenizer '{name}' trains a BPE and needs 'vocab'")
            return None
        srcs = b.get("data", units.list_of(units.name), None, required_pos=sec.pos)
        tt = _build(S.TokenizerTrain, diags, sec.pos, vocab=vocab, sources=srcs,
                    min_frequency=b.get("min_frequency", units.positive_int, None),
                    split_digits=b.get("split_digits", units.boolean, None),
                    max_docs=b.get("max_docs", units.count, None))
    return _build(S.Tokenizer, diags, sec.pos, name=name, path=path, train=tt, vocab=vocab,
                  pad_to=b.get("pad_to", units.positive_int, None))


def read_source(name: str, sec: ast.Section, diags: Diagnostics):
    b = Body(f"source '{name}'", sec.body, diags,
             {"path", "dataset", "split", "format", "text", "id", "tokens", "docs", "license"})
    path = b.get("path", units.string, None)
    dataset = b.get("dataset", units.string, None)
    if (path is None) == (dataset is None):
        diags.error(sec.pos, f"source '{name}' needs exactly one of 'path' (files or a glob) and 'dataset' (an HF id)")
    fmt = b.get("format", units.word("auto", "jsonl", "parquet", "hf"), None)
    # the format is checked against what is read: files for jsonl/parquet, a dataset for hf
    if fmt == "hf" and path is not None:
        diags.error(b.pos_of("format"), f"source '{name}' says format = hf, which is for 'dataset = ...'; "
                                        "its 'path' files are jsonl or parquet")
    elif fmt in ("jsonl", "parquet") and dataset is not None:
        diags.error(b.pos_of("format"), f"source '{name}' says format = {fmt}, which is for 'path' files; "
                                        "a 'dataset' is read as an HF dataset (format = hf)")
    if b.has("split") and path is not None:
        diags.error(b.pos_of("split"), f"source '{name}': 'split' picks a split of a 'dataset'; "
                                       "'path' files have none")
    return _build(S.Source, diags, sec.pos, name=name, path=path, dataset=dataset,
                  split=b.get("split", units.string, None), format=fmt,
                  text=b.get("text", units.string, None), id=b.get("id", units.string, None),
                  tokens=b.get("tokens", units.tokens, None), docs=b.get("docs", units.count, None),
                  license=b.get("license", units.string, None))


_STEP_FIELDS: dict[str, dict[str, Any]] = {
    "exact": {"normalize": units.word("true"), "keep": units.word("first", "newest"), "date": units.string},
    "minhash": {"ngram": units.positive_int, "permutations": units.positive_int, "bands": units.positive_int,
                "rows": units.positive_int, "threshold": units.unit_fraction,
                "verify": units.word("jaccard"), "max_cluster": units.positive_int},
    "substring": {"min_bytes": units.positive_int, "keep": units.word("one"), "bookend": units.percent},
    "quality": {"positive": units.list_of(units.name), "negative": units.list_of(units.name)},
    "upsample": {"drop_below": units.percent, "max_repeat": units.repeat_factor, "per": units.name,
                 "tokens": units.tokens, "words": units.count, "seed": units.integer},
    "decontaminate": {"against": units.list_of(units.name), "ngram": units.positive_int,
                      "min_overlap": units.percent},
    "fim": {"rate": units.percent, "spm": units.percent, "seed": units.integer},
}
_STEP_CLASS = {"exact": S.ExactStep, "minhash": S.MinhashStep, "substring": S.SubstringStep,
               "quality": S.QualityStep, "upsample": S.UpsampleStep, "decontaminate": S.DecontaminateStep,
               "fim": S.FimStep}


def step_kind(sec: ast.Section) -> str | None:
    """`dedup exact` / `dedup minhash {..}` / `quality linear {..}` / `upsample {..}` -> step kind."""
    if sec.kind == "dedup":
        return sec.name
    return sec.kind


def read_curate(name: str, sec: ast.Section, diags: Diagnostics):
    clause = sec.clause("from")
    sources: tuple[str, ...] = ()
    if clause is not None:
        try:
            sources = units.list_of(units.name)(clause.value)
        except SpecError as e:
            diags.add(e)
    tokens = None
    steps = []
    seen: dict[str, Pos] = {}
    for item in sec.body or ():
        if isinstance(item, ast.Assign):
            if item.key == "tokens":
                try:
                    tokens = units.tokens(item.value)
                except SpecError as e:
                    diags.add(e)
            else:
                diags.error(item.pos, f"unknown field '{item.key}' in curation '{name}'{did_you_mean(item.key, {'tokens'})}")
            continue
        kind = step_kind(item)
        if kind not in _STEP_FIELDS:
            choices = set(_STEP_FIELDS) | {"dedup"}
            what = item.name if item.kind == "dedup" else item.kind
            diags.error(item.pos, f"unknown curation step '{what}'{did_you_mean(str(what), choices)}")
            continue
        if kind in seen:
            diags.error(item.pos, f"step '{kind}' appears twice in curation '{name}' (first at line {seen[kind].line})")
            continue
        seen[kind] = item.pos
        if item.kind == "quality" and item.name not in (None, "linear"):
            hint = " (a linear model of fastText's family; write 'quality linear')" if item.name == "fasttext" else ""
            diags.error(item.atom.pos, f"unknown quality model '{item.name}'; expected linear{hint}")
        b = Body(f"step '{kind}'", item.body, diags, _STEP_FIELDS[kind])
        kw = {f: b.get(f, conv, None) for f, conv in _STEP_FIELDS[kind].items()}
        if kind == "exact":
            kw["normalize"] = True if kw["normalize"] else None
        if kind == "upsample" and kw["tokens"] is not None and kw["words"] is not None:
            diags.error(item.pos, "step 'upsample' takes a target in 'tokens' or in 'words', not both")
        if kind == "upsample" and "quality" not in seen:
            diags.error(item.pos, f"step 'upsample' in curation '{name}' needs a 'quality' step before it "
                                  "(it upsamples by the quality score)")
        if kind == "quality":
            for f in ("positive", "negative"):
                if kw[f] is None:
                    diags.error(item.pos, f"step 'quality' needs '{f} = [SOURCE, ...]'")
        if kind == "decontaminate" and kw["against"] is None:
            kw["against"] = ("evals",)
        if kind == "minhash" and (kw["bands"] is None) != (kw["rows"] is None):
            diags.error(item.pos, "minhash needs both 'bands' and 'rows', or neither (then they come from 'threshold')")
        step = _build(_STEP_CLASS[kind], diags, item.pos, **kw)
        if step is not None:
            steps.append(step)
    return _build(S.Curate, diags, sec.pos, name=name, sources=sources, steps=tuple(steps), tokens=tokens)


def read_mix(name: str, sec: ast.Section, diags: Diagnostics):
    tokens = None
    entries = []
    broken = False
    for item in sec.body or ():
        if isinstance(item, ast.Assign):
            if item.key == "tokens":
                try:
                    tokens = units.tokens(item.value)
                except SpecError as e:
                    diags.add(e)
            else:
                diags.error(item.pos, f"unknown field '{item.key}' in mix '{name}'{did_you_mean(item.key, {'tokens'})}")
            continue
        if len(item.path) != 1 or not isinstance(item.atom, ast.Number):
            diags.error(item.pos, f"a mix entry is 'NAME SHARE' such as 'web 76.1%', got '{item.kind}'")
            broken = True
            continue
        try:
            share = units.percent(item.atom)
        except SpecError as e:
            diags.add(e)
            broken = True
            continue
        b = Body(f"mix entry '{item.kind}'", item.body, diags, {"max_repeat"})
        entries.append(S.MixEntry(name=item.kind, share=share, max_repeat=b.get("max_repeat", units.repeat_factor, None)))
    if broken:  # reported; sums and "no entries" would only repeat it
        return None
    if not entries:
        diags.error(sec.pos, f"mix '{name}' has no entries; write 'SOURCE SHARE' lines such as 'web 76.1%'")
    names = [e.name for e in entries]
    for n in {n for n in names if names.count(n) > 1}:
        diags.error(sec.pos, f"'{n}' appears twice in mix '{name}'")
    return _build(S.Mix, diags, sec.pos, name=name, entries=tuple(entries), tokens=tokens)


_MODEL_FIELDS = {"d_model", "layers", "heads", "kv_heads", "mlp", "vocab", "pad_to", "tokenizer", "attention",
                 "rope_theta", "norm", "norm_placement", "qk_norm", "tie_embeddings", "init_std", "activation",
                 "path", "hf"}


def _attention(v: ast.Value) -> tuple[int | None, ...]:
    """`repeat(window(4096), window(4096), window(4096), full)` or `full` or `window(64)`."""

    def one(x: ast.Value) -> int | None:
        if isinstance(x, ast.Name) and x.name == "full":
            return None
        if isinstance(x, ast.Call) and x.name == "window" and len(x.args) == 1 and not x.kwargs:
            return units.positive_int(x.args[0])
        raise SpecError(x.pos, f"expected full or window(N), got {units.describe(x)}")

    if isinstance(v, ast.Call) and v.name == "repeat":
        if not v.args:
            raise SpecError(v.pos, "repeat(...) needs at least one layer type")
        return tuple(one(a) for a in v.args)
    if isinstance(v, ast.ListV):
        if not v.items:
            raise SpecError(v.pos, "the attention pattern needs at least one layer type (full or window(N))")
        return tuple(one(a) for a in v.items)
    return (one(v),)


def _norm(v: ast.Value) -> float:
    if isinstance(v, ast.Call) and v.name == "rms" and len(v.args) == 1:
        return units.real(v.args[0])
    raise SpecError(v.pos, f"expected rms(EPS) such as rms(1e-6), got {units.describe(v)}")


def _only(value: Any, conv, why: str):
    """A setting the language spells out but that has one behaviour: any other value is an error."""

    def read(v: ast.Value):
        got = conv(v)
        if got != value:
            shown = str(value).lower() if isinstance(value, bool) else value
            raise SpecError(v.pos, f"only {shown} is supported ({why})")
        return got

    return read


def read_model(name: str, sec: ast.Section, diags: Diagnostics):
    b = Body(f"model '{name}'", sec.body, diags, _MODEL_FIELDS, {"rope"})
    path = b.get("path", units.string, None) or b.get("hf", units.string, None)
    if path is not None:
        extra = set(b.assigns) - {"path", "hf"}
        for k in sorted(extra):
            diags.error(b.pos_of(k), f"model '{name}' is external (path/hf): '{k}' cannot be set")
        return S.ExternalModel(name=name, path=path)
    req = sec.pos
    rope = b.section("rope")
    theta = b.get("rope_theta", units.real, None)
    if rope is not None:
        rb = Body("rope", rope.body, diags, {"theta"})
        if rb.has("theta") and b.has("rope_theta"):
            diags.error(rb.pos_of("theta"), "RoPE theta is set twice ('rope_theta' and 'rope { theta }'): keep one")
        theta = rb.get("theta", units.real, theta)
    tok = b.value("tokenizer")
    tok_ref = None
    if tok is not None:
        try:
            tok_ref = (units.name(tok), tok.pos)
        except SpecError as e:
            diags.add(e)
    vocab = b.get("vocab", units.positive_int, None)
    if vocab is None and tok_ref is None:
        diags.error(sec.pos, f"model '{name}' needs 'vocab' or a 'tokenizer' whose vocabulary it uses")
    cfg = _build(
        ModelConfig, diags, sec.pos, name=name,
        d_model=b.get("d_model", units.positive_int, None, required_pos=req),
        n_layers=b.get("layers", units.positive_int, None, required_pos=req),
        n_heads=b.get("heads", units.positive_int, None, required_pos=req),
        n_kv_heads=b.get("kv_heads", units.positive_int, None) or b.get("heads", units.positive_int, None),
        mlp_hidden=b.get("mlp", units.positive_int, None, required_pos=req),
        vocab_size=vocab if vocab is not None else 1,
        vocab_pad_to=b.get("pad_to", units.positive_int, None),
        attention_pattern=b.get("attention", _attention, None),
        rope_theta=theta,
        norm_eps=b.get("norm", _norm, None),
        norm_placement=b.get("norm_placement", _only("post", units.word("post", "pre"),
                                                      "the runner builds OLMo 3's post-norm block only"), None),
        qk_norm=b.get("qk_norm", _only(True, units.boolean, "OLMo 3's block always normalises q and k"), None),
        activation=b.get("activation", units.word("swiglu"), None),
        tie_embeddings=b.get("tie_embeddings", units.boolean, None),
        init_std=b.get("init_std", units.real, None),
    )
    if cfg is None:
        return None
    from olmospec.checks import check_model

    check_model(cfg, {k: b.pos_of(k) for k in b.assigns}, sec.pos, diags)
    return cfg, tok_ref


_TRAIN_FIELDS = {"kind", "model", "data", "tokenizer", "tokens", "steps", "epochs", "seq", "batch", "lr",
                 "z_loss", "seed", "doc_mask"}
_DPO_FIELDS = {"prompts", "pairs", "loss", "beta", "label_smoothing", "length_control", "max_pairs", "heldout", "verify",
               "temperature", "top_p", "max_response", "generator"}
_DELTA_ONLY = ("prompts", "verify", "temperature", "top_p", "max_response", "generator")
_RLVR_FIELDS = {"prompts", "rewards", "group", "prompts_per_batch", "clip", "tis_cap", "kl", "active_sampling",
                "temperature", "max_response", "minibatches", "template", "advantages", "refills", "retire"}
_RUNTIME_FIELDS = {
    "gpus": units.positive_int, "nodes": units.positive_int, "procs_per_node": units.positive_int,
    "launcher": units.word("torchrun", "slurm"), "throughput": units.throughput,
    "price": units.price, "micro_batch": units.positive_int, "compile": units.boolean,
    "activation_checkpointing": units.boolean, "device": units.word("cpu", "cuda", "auto"),
    "threads": units.positive_int, "checkpoint_every": units.positive_int,
    "attention_impl": units.word("sdpa", "flex_attention", "eager"), "fused_optimizer": units.boolean,
    "reshard_after_forward": units.boolean, "fsdp_prefetch": units.positive_int,
}


# Settings every stage accepts whose runner, for these kinds, reads something else: written on such a
# stage they are errors (with what to write instead), never silently ignored. Inherited values are
# not checked: a dpo or rlvr stage inherits the seq, batch and optimizer of the stage before it.
_FROM_EXPORT = "it continues from the 'after' stage's export"
_NOT_READ: dict[str, dict[str, str]] = {
    "dpo": {
        "data": "a dpo stage reads 'prompts' and 'pairs'",
        "tokens": "a dpo stage's budget is 'epochs' or 'steps' over its pairs",
        "doc_mask": "a DPO row holds one prompt and completion",
        "tokenizer": f"{_FROM_EXPORT}, whose tokenizer and chat template it uses",
        "z_loss": "the DPO loss has no z-loss term",
    },
    "rlvr": {
        "data": "an rlvr stage reads 'prompts'",
        "tokens": "an rlvr stage's budget is 'steps'",
        "epochs": "an rlvr stage's budget is 'steps'",
        "seq": "an rlvr stage's lengths are its prompts' and 'max_response'",
        "batch": "an rlvr stage's batch is 'prompts_per_batch' prompts x 'group' completions",
        "doc_mask": "an RL row holds one prompt and completion",
        "model": f"{_FROM_EXPORT} (its architecture)",
        "tokenizer": f"{_FROM_EXPORT} (its tokenizer and chat template)",
        "yarn": f"{_FROM_EXPORT} (its RoPE, YaRN included)",
        "z_loss": "the GRPO loss has no z-loss term",
        "runtime.attention_impl": "the RL learner does not take this switch (training and DPO stages do)",
        "runtime.fused_optimizer": "the RL learner does not take this switch (training and DPO stages do)",
        "runtime.reshard_after_forward": "the RL learner does not take this switch (training and DPO stages do)",
        "runtime.fsdp_prefetch": "the RL learner does not take this switch (training and DPO stages do)",
    },
}


def _check_read(name: str, kind: str, b: Body, diags: Diagnostics) -> None:
    """An error at each setting of `_NOT_READ` this stage writes (in the stage or its blocks)."""
    rules = _NOT_READ.get(kind, {})
    written: list[tuple[str, Pos]] = [(k, b.pos_of(k)) for k in b.assigns]
    for sec in b.sections:
        if sec.kind == "yarn":
            written.append(("yarn", sec.pos))
        inner = [a for a in sec.body or () if isinstance(a, ast.Assign)]
        if sec.kind == "optimizer":
            written += [(a.key, a.pos) for a in inner if a.key == "z_loss"]
        if sec.kind == "runtime":
            written += [(f"runtime.{a.key}", a.pos) for a in inner]
    for key, pos in written:
        if key in rules:
            diags.error(pos, f"stage '{name}' ({kind}): '{key}' is not read by this kind: {rules[key]}")


def _pairs(v: ast.Value) -> S.DeltaPairs | str:
    """`delta(chosen = MODEL, rejected = MODEL)`, or the name of a source/curation of pair records."""
    if isinstance(v, ast.Name):
        return v.name
    if isinstance(v, ast.Call) and v.name == "delta" and not v.args:
        kw = {k.name: k.value for k in v.kwargs}
        if set(kw) == {"chosen", "rejected"}:
            return S.DeltaPairs(chosen=units.name(kw["chosen"]), rejected=units.name(kw["rejected"]))
    raise SpecError(v.pos, f"expected delta(chosen = MODEL, rejected = MODEL) or a source of pairs, got "
                           f"{units.describe(v)}")


def _dpo(name: str, b: Body, pos: Pos, diags: Diagnostics):
    pairs = b.get("pairs", _pairs, None, required_pos=pos)
    delta = isinstance(pairs, S.DeltaPairs)
    if delta and not b.has("prompts"):
        diags.error(pos, f"stage '{name}' makes delta pairs and needs 'prompts = SOURCE'")
    if isinstance(pairs, str):
        for f in _DELTA_ONLY:
            if b.has(f):
                diags.error(b.pos_of(f), f"'{f}' applies to generated pairs (pairs = delta(...)); "
                                         f"'{pairs}' already holds its pairs")
    return _build(S.DpoSettings, diags, pos, prompts=b.get("prompts", units.name, None), pairs=pairs,
                  loss=b.get("loss", units.word("dpo", "dpo_norm"), None), beta=b.get("beta", units.real, None),
                  label_smoothing=b.get("label_smoothing", units.unit_fraction, None),
                  length_control=b.get("length_control", units.tokens, None),
                  max_pairs=b.get("max_pairs", units.count, None), heldout=b.get("heldout", units.percent, None),
                  verify=b.get("verify", units.boolean, None),
                  temperature=b.get("temperature", units.nonneg_real, None),
                  top_p=b.get("top_p", units.unit_fraction, None),
                  max_response=b.get("max_response", units.tokens, None),
                  generator=b.get("generator", units.word("hf", "vllm"), None))


def _off_or(conv):
    """`off`, or a value read by `conv`: for optional settings whose default is on (retire, tis_cap)."""

    def read(v: ast.Value):
        if isinstance(v, ast.Name) and v.name == "off":
            return _OFF
        return conv(v)

    return read


def read_stage(name: str, sec: ast.Section, diags: Diagnostics):
    b0 = {a.key for a in sec.body or () if isinstance(a, ast.Assign)}
    kind = None
    if "kind" in b0:
        kv = next(a.value for a in sec.body if isinstance(a, ast.Assign) and a.key == "kind")
        try:
            kind = units.word(*S.STAGE_KINDS)(kv)
        except SpecError as e:
            diags.add(e)
            return None
    elif name in S.STAGE_KINDS:
        kind = name
    else:
        diags.error(sec.atom.pos, f"unknown stage kind '{name}'{did_you_mean(name, set(S.STAGE_KINDS))} (a stage "
                                  f"is named after its kind, one of {', '.join(S.STAGE_KINDS)}, or sets 'kind = ...')")
        return None
    fields = set(_TRAIN_FIELDS) | (_DPO_FIELDS if kind == "dpo" else set()) | (_RLVR_FIELDS if kind == "rlvr" else set())
    b = Body(f"stage '{name}' ({kind})", sec.body, diags, fields, {"optimizer", "schedule", "yarn", "runtime"})
    _check_read(name, kind, b, diags)
    after = None
    clause = sec.clause("after")
    if clause is not None:
        try:
            after = units.name(clause.value)
        except SpecError as e:
            diags.add(e)
    budget = [k for k in ("tokens", "steps", "epochs") if b.has(k)]
    if len(budget) > 1:
        diags.error(b.pos_of(budget[1]), f"stage '{name}' sets both '{budget[0]}' and '{budget[1]}': give one budget")
    opt = None
    lr = b.get("lr", units.real, None)
    osec = b.section("optimizer")
    okw: dict[str, Any] = {"lr": lr}
    if osec is not None:
        if osec.name not in (None, "adamw"):
            diags.error(osec.atom.pos, f"unknown optimizer '{osec.name}'{did_you_mean(str(osec.name), {'adamw'})}")
        ob = Body("optimizer", osec.body, diags, {"lr", "betas", "eps", "weight_decay", "clip", "z_loss"})
        for f in ("lr", "z_loss"):  # two spellings of one setting: a silent winner would hide edits
            if ob.has(f) and b.has(f):
                diags.error(ob.pos_of(f), f"'{f}' is set twice in stage '{name}' ('{f}' and 'optimizer {{ {f} }}'): "
                                          "keep one")
        okw.update(lr=ob.get("lr", units.real, lr), betas=ob.get("betas", units.pair(units.real), None),
                   eps=ob.get("eps", units.real, None), weight_decay=ob.get("weight_decay", units.nonneg_real, None),
                   clip=ob.get("clip", units.real, None), z_loss=ob.get("z_loss", units.nonneg_real, None))
    z = b.get("z_loss", units.nonneg_real, None)
    if z is not None:
        okw["z_loss"] = z
    if okw.get("lr") is not None:
        opt = _build(OptimizerConfig, diags, sec.pos, **okw)
    sched = None
    ssec = b.section("schedule")
    if ssec is not None:
        kinds = ("cosine", "linear", "wsd", "constant")
        if ssec.name not in kinds:
            diags.error(ssec.pos, f"schedule needs a kind: one of {', '.join(kinds)}"
                        + (did_you_mean(ssec.name, set(kinds)) if ssec.name else ""))
        else:
            sb = Body(f"schedule {ssec.name}", ssec.body, diags, {"warmup", "final", "decay"})
            sched = _build(S.ScheduleSpec, diags, ssec.pos, kind=ssec.name, warmup=sb.get("warmup", units.warmup, None),
                           final=sb.get("final", units.percent, None), decay=sb.get("decay", units.percent, None))
    yarn = None
    ysec = b.section("yarn")
    if ysec is not None:
        yb = Body("yarn", ysec.body, diags, {"factor", "original", "beta_fast", "beta_slow", "attention_factor", "layers"})
        yarn = _build(YarnConfig, diags, ysec.pos, factor=yb.get("factor", units.real, None, required_pos=ysec.pos),
                      original_context=yb.get("original", units.context_length, None, required_pos=ysec.pos),
                      beta_fast=yb.get("beta_fast", units.real, None), beta_slow=yb.get("beta_slow", units.real, None),
                      attention_factor=yb.get("attention_factor", units.real, None),
                      layers=yb.get("layers", units.word("full", "all"), None))
    runtime = S.StageRuntime()
    rsec = b.section("runtime")
    if rsec is not None:
        rb = Body("runtime", rsec.body, diags, _RUNTIME_FIELDS)
        runtime = _build(S.StageRuntime, diags, rsec.pos, **{f: rb.get(f, c, None) for f, c in _RUNTIME_FIELDS.items()}) \
            or S.StageRuntime()
    dpo = rlvr = None
    if kind == "dpo" and after is None:
        diags.error(sec.pos, f"stage '{name}' (dpo) needs 'after STAGE': the policy starts from that stage's "
                             "model, which is also the reference")
    if kind == "rlvr" and after is None:
        diags.error(sec.pos, f"stage '{name}' (rlvr) needs 'after STAGE': the policy starts from that stage's "
                             "export")
    if kind == "rlvr" and not b.has("steps"):
        diags.error(sec.pos, f"stage '{name}' (rlvr) needs a budget: 'steps = N'")
    if kind == "dpo":
        dpo = _dpo(name, b, sec.pos, diags)
    if kind == "rlvr":
        rlvr = _build(S.RlvrSettings, diags, sec.pos, prompts=b.get("prompts", units.name, None, required_pos=sec.pos),
                      rewards=b.get("rewards", units.list_of(units.word("math", "code", "ifeval", "random", "format")),
                                    None, required_pos=sec.pos),
                      template=b.get("template", units.word("chat", "answer"), None),
                      group=b.get("group", units.positive_int, None),
                      prompts_per_batch=b.get("prompts_per_batch", units.positive_int, None),
                      clip=b.get("clip", units.pair(units.real), None), tis_cap=b.get("tis_cap", _off_or(units.real), None),
                      kl=b.get("kl", units.nonneg_real, None), active_sampling=b.get("active_sampling", units.boolean, None),
                      advantages=b.get("advantages", units.word("centered", "standard"), None),
                      refills=b.get("refills", units.integer, None), retire=b.get("retire", _off_or(units.percent), None),
                      temperature=b.get("temperature", units.nonneg_real, None),
                      max_response=b.get("max_response", units.tokens, None),
                      minibatches=b.get("minibatches", units.positive_int, None))
    return _build(
        S.Stage, diags, sec.pos, name=name, kind=kind, after=after, model=b.get("model", units.name, None),
        data=b.get("data", units.name, None), tokenizer=b.get("tokenizer", units.name, None),
        tokens=b.get("tokens", units.tokens, None), steps=b.get("steps", units.steps, None),
        epochs=b.get("epochs", units.epochs, None), seq=b.get("seq", units.context_length, None),
        batch=b.get("batch", units.batch, None), optimizer=opt, schedule=sched, yarn=yarn,
        doc_mask=b.get("doc_mask", units.boolean, None), seed=b.get("seed", units.integer, None),
        dpo=dpo, rlvr=rlvr, runtime=runtime,
    )


def read_task(name: str, sec: ast.Section, diags: Diagnostics):
    b = Body(f"task '{name}'", sec.body, diags, {"type", "path", "dataset", "lm_eval", "metric", "limit",
                                                 "temperature", "top_p", "max_response"})
    if b.has("dataset"):  # read by nothing before: a setting that changes nothing is an error
        diags.error(b.pos_of("dataset"), f"task '{name}': 'dataset' is not supported: an eval reads a local 'path' "
                                         "(JSONL) or runs an 'lm_eval' task, and decontamination needs a local 'path'")
    t = _build(S.Task, diags, sec.pos, name=name,
               type=b.get("type", units.word("generate", "multiple_choice", "ifeval"), None),
               path=b.get("path", units.string, None),
               lm_eval=b.get("lm_eval", units.string, None), metric=b.get("metric", units.name, None),
               limit=b.get("limit", units.positive_int, None), temperature=b.get("temperature", units.nonneg_real, None),
               top_p=b.get("top_p", units.unit_fraction, None), max_response=b.get("max_response", units.tokens, None))
    if t is not None and not (t.path or t.lm_eval) and not b.has("dataset"):
        diags.error(sec.pos, f"task '{name}' needs 'path' (local jsonl) or 'lm_eval'")
    if t is not None:
        _check_task_settings(t, b, diags)
    return t


def _check_task_settings(t: S.Task, b: Body, diags: Diagnostics) -> None:
    """Settings a task of this kind never reads are errors, not silently ignored (evals/stage.py)."""
    if t.lm_eval and t.lm_eval not in S.LOCAL_LM_EVAL and not t.path:
        for f in ("type", "limit", "temperature", "top_p", "max_response"):
            if b.has(f):
                diags.error(b.pos_of(f), f"task '{t.name}': '{f}' applies to local tasks ('path'); lm-eval runs "
                                         f"'{t.lm_eval}' with its own settings")
        return
    if t.type == "multiple_choice":
        for f in ("temperature", "top_p", "max_response"):
            if b.has(f):
                diags.error(b.pos_of(f), f"task '{t.name}': '{f}' applies to generated answers; a multiple_choice "
                                         "task scores the log-likelihood of each choice")
    elif b.has("top_p") and not t.temperature:
        diags.error(b.pos_of("top_p"), f"task '{t.name}': 'top_p' applies when sampling: set 'temperature' above 0 "
                                       "(without it, answers are greedy)")


def read_eval(name: str, sec: ast.Section, diags: Diagnostics):
    b = Body(f"eval '{name}'", sec.body, diags, {"tasks", "ruler", "ruler_tasks", "ruler_samples", "haystack",
                                                 "contamination", "batch"}, {"runtime"})
    clause = sec.clause("after")
    after: tuple[str, ...] = ()
    if clause is None:
        diags.error(sec.pos, f"eval '{name}' needs 'after STAGE' or 'after [STAGE, ...]'")
    else:
        try:
            after = units.list_of(units.name)(clause.value)
        except SpecError as e:
            diags.add(e)
    runtime = None
    if (rsec := b.section("runtime")) is not None:
        rb = Body(f"eval '{name}' runtime", rsec.body, diags, _EVAL_RUNTIME_FIELDS)
        runtime = _build(S.EvalRuntime, diags, rsec.pos, **{f: rb.get(f, c, None) for f, c in _EVAL_RUNTIME_FIELDS.items()})
    if not b.has("ruler"):  # read only when the eval runs RULER
        for f in ("ruler_tasks", "ruler_samples", "haystack"):
            if b.has(f):
                diags.error(b.pos_of(f), f"eval '{name}': '{f}' applies to RULER: give its context lengths "
                                         "('ruler = [4K, ...]')")
    return _build(S.Eval, diags, sec.pos, name=name, after=after,
                  tasks=b.get("tasks", units.list_of(units.name), None),
                  ruler=b.get("ruler", units.list_of(units.context_length), None),
                  ruler_tasks=b.get("ruler_tasks", units.list_of(units.word(*S.RULER_TASKS)), None),
                  ruler_samples=b.get("ruler_samples", units.positive_int, None),
                  haystack=b.get("haystack", units.name, None),
                  contamination=b.get("contamination", units.word("check", "off"), None),
                  batch=b.get("batch", units.positive_int, None), runtime=runtime)


_EVAL_RUNTIME_FIELDS = {"device": units.word("cpu", "cuda", "auto"), "backend": units.word("hf", "vllm", "auto"),
                        "threads": units.positive_int, "gpus": units.positive_int}


def _column(v: ast.Value) -> str:
    if isinstance(v, ast.Name):
        return v.name
    if isinstance(v, ast.Call) and v.name == "ruler" and len(v.args) == 1:
        return f"ruler@{units.context_length(v.args[0])}"
    raise SpecError(v.pos, f"expected a task name or ruler(LENGTH), got {units.describe(v)}")


def read_report(name: str, sec: ast.Section, diags: Diagnostics):
    from olmospec.resolve_findings import read_findings

    b = Body(f"report '{name}'", sec.body, diags, {"rows", "columns", "baseline", "format"}, {"finding"})
    rows = b.get("rows", units.word("variants", "stages", "findings"), None)
    findings = read_findings(name, rows, b, sec, diags, _column)
    columns = b.get("columns", units.list_of(_column), None, required_pos=None if rows == "findings" else sec.pos)
    return _build(S.Report, diags, sec.pos, name=name, rows=rows, columns=columns,
                  baseline=b.get("baseline", units.name, None), findings=findings,
                  format=b.get("format", units.list_of(units.word("markdown", "latex", "html", "csv")), None))


__all__ = [
    "read_curate",
    "read_eval",
    "read_mix",
    "read_model",
    "read_report",
    "read_source",
    "read_stage",
    "read_task",
    "read_tokenizer",
    "ref_positions",
    "step_kind",
]
