"""Semantic checks that need several blocks at once: mixes, architectures and budgets.

Each check adds errors at the most useful position (the mix, the model field, the stage budget) and
never stops the others, so one run reports every problem.
"""

from __future__ import annotations

from olmospec import ast
from olmospec.errors import Diagnostics, Pos
from olmospec.ir import spec as S
from olmospec.ir.model import ModelConfig

SHARE_TOLERANCE = 0.001  # published tables round their shares: Dolma 3's add up to 100.05%


def available_tokens(name: str, sources, curations, mixes, manifests: dict[str, int] | None = None,
                     _seen: frozenset[str] = frozenset()) -> int | None:
    """Tokens a mix entry can supply once: a manifest's count, else the declared size (None when
    unknown, or when curations read each other in a cycle, which resolve reports)."""
    if name in _seen:
        return None
    if manifests and name in manifests:
        return manifests[name]
    if name in sources:
        return sources[name].tokens
    if name in curations:
        c = curations[name]
        if c.tokens is not None:
            return c.tokens
        if not c.sources:
            return None
        sizes = [available_tokens(s, sources, curations, mixes, manifests, _seen | {name}) for s in c.sources]
        return None if any(x is None for x in sizes) else sum(sizes)
    return None


def check_mix(mix: S.Mix, sec_pos: Pos, entry_pos: dict[str, Pos], budget: int | None, sources, curations, mixes,
              diags: Diagnostics, manifests: dict[str, int] | None = None) -> None:
    """Shares add up to 100% (the error points at the mix and says by how much they are off), and
    every component of the flattened mix (nested mixes included) can supply its tokens under its cap."""
    from olmospec.mixes import flatten

    total = sum(e.share for e in mix.entries)
    if abs(total - 1.0) > SHARE_TOLERANCE:
        off = abs(total - 1.0) * 100
        how = f"{off:.4g} points short of 100%" if total < 1 else f"{off:.4g} points over 100%"
        diags.error(sec_pos, f"mix '{mix.name}' shares add up to {total * 100:.4g}%, {how}")
    tokens = mix.tokens or budget
    if tokens is None:
        return
    for c in flatten(mix.name, mixes):
        avail = available_tokens(c.name, sources, curations, mixes, manifests)
        if avail is None:
            continue
        cap = c.max_repeat or 1.0  # no cap written: each token at most once, as the mix runner does
        want = c.share * tokens
        where = entry_pos.get(c.via, sec_pos)
        through = f" (through '{c.via}')" if c.via != c.name else ""
        if avail <= 0 and want > 0:
            diags.error(where, f"mix '{mix.name}' asks tokens of '{c.name}'{through}, which has none")
        elif want > avail * cap * (1 + 1e-9):
            diags.error(
                where,
                f"mix '{mix.name}' asks {_fmt(want)} tokens of '{c.name}'{through}, but it has {_fmt(avail)} "
                f"and max_repeat = {cap:g}x allows {_fmt(avail * cap)} "
                f"({want / avail:.2f}x needed)",
            )


def _fmt(n: float) -> str:
    for div, s in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.3g}{s}"
    return f"{n:.0f}"


def check_model(m: ModelConfig, pos: dict[str, Pos], default: Pos, diags: Diagnostics) -> None:
    if m.d_model % m.n_heads:
        diags.error(pos.get("heads", default), f"d_model = {m.d_model} is not divisible by heads = {m.n_heads}")
    if m.n_heads % m.n_kv_heads:
        diags.error(pos.get("kv_heads", default), f"heads = {m.n_heads} is not divisible by kv_heads = {m.n_kv_heads}")
    windows = {w for w in m.attention_pattern if w is not None}
    if len(windows) > 1:
        diags.error(pos.get("attention", default), f"sliding layers must share one window size, got {sorted(windows)}")


def check_upsample_units(curations, tokenizers, curate_secs, diags: Diagnostics) -> None:
    """An upsampling target in tokens is counted with the project's tokenizer: it needs exactly one."""
    if len(tokenizers) == 1:
        return
    for sec in curate_secs:
        c = curations.get(sec.name or "")
        for step in c.steps if c else ():
            if isinstance(step, S.UpsampleStep) and step.tokens:
                pos = next((i.pos for i in sec.body or () if isinstance(i, ast.Section) and i.kind == "upsample"),
                           sec.pos)
                diags.error(pos, f"curation '{c.name}': upsample 'tokens' are counted with the project's "
                                 f"tokenizer, and this spec has {len(tokenizers)}; define one tokenizer, or give "
                                 "the target in words ('words = ...')")


def _present(sec: ast.Section) -> set[str]:
    """Fields a stage writes, and the fields its misspelled ones were meant to be: `lrr = 1e-3` was
    reported with "did you mean 'lr'", so "needs a learning rate" would only repeat it."""
    import difflib

    keys = {a.key for a in sec.body or () if isinstance(a, ast.Assign)}
    meant = set()
    for k in keys:
        meant.update(difflib.get_close_matches(k, _NEEDED, n=1, cutoff=0.6))
    return keys | meant


_NEEDED = ("seq", "batch", "tokens", "steps", "data", "model", "lr", "tokenizer")


def check_semantics(sources, curations, mixes, models, stages, stage_secs, mix_secs, diags: Diagnostics,
                    broken: set[str] = frozenset(), unknown_models: set[str] = frozenset()) -> None:
    """`broken`: stages whose `after` chain does not resolve (reported already), so whatever they would
    inherit is unknown and "needs X" would be a cascade; `unknown_models`: stages whose model
    reference is unknown (reported), so their tokenizer is unknown too."""
    from olmospec.mixes import mix_cycle

    budgets: dict[str, int] = {}
    for st in stages.values():
        if st.data in mixes and st.tokens:
            budgets.setdefault(st.data, st.tokens)
    for sec in mix_secs:
        m = mixes.get(sec.name or "")
        if m is None:
            continue
        name_pos = sec.atom.pos if sec.atom is not None else sec.pos
        cycle = mix_cycle(m.name, mixes)
        if cycle:
            diags.error(name_pos, f"mix cycle: {' -> '.join(cycle)}")
            continue
        entry_pos = {i.kind: i.pos for i in sec.body or () if isinstance(i, ast.Section)}
        check_mix(m, name_pos, entry_pos, budgets.get(m.name), sources, curations, mixes, diags)
    for st in stages.values():
        sec = stage_secs[st.name]
        fpos = {a.key: a.value.pos for a in sec.body or () if isinstance(a, ast.Assign)}
        # A field that is present but invalid (or misspelled) was reported already, and a stage whose
        # `after` does not resolve inherits nothing we know: "needs" would only repeat those errors.
        present = _present(sec) | (set(_NEEDED) if st.name in broken else set())
        model = models.get(st.model or "")
        if model is not None and st.seq is not None:
            for w in model.attention_pattern:
                if w is not None and w > st.seq:
                    diags.error(fpos.get("seq", sec.pos),
                                f"stage '{st.name}': seq = {st.seq} is shorter than model '{model.name}'s sliding "
                                f"window {w}: the window would never slide")
                    break
                if w is not None and w == st.seq:
                    diags.warn(fpos.get("seq", sec.pos),
                               f"stage '{st.name}': seq = {st.seq} equals model '{model.name}'s sliding window: "
                               "the window never slides (every layer sees the whole sequence)")
                    break
        if st.kind in ("pretrain", "midtrain", "longctx"):
            if st.seq is None and "seq" not in present:
                diags.error(sec.pos, f"stage '{st.name}' needs 'seq' (its own or inherited from 'after')")
            if st.batch is None and "batch" not in present:
                diags.error(sec.pos, f"stage '{st.name}' needs 'batch' such as '4M tokens' or '512 seqs'")
            if st.tokens is None and st.steps is None and not {"tokens", "steps"} & present:
                diags.error(sec.pos, f"stage '{st.name}' needs a budget: 'tokens' or 'steps'")
            if st.data is None and "data" not in present:
                diags.error(sec.pos, f"stage '{st.name}' needs 'data = MIX'")
        if st.kind == "sft" and st.data is None and "data" not in present:
            diags.error(sec.pos, f"stage '{st.name}' needs 'data = SOURCE' (chat records)")
        if st.kind == "sft" and st.data in mixes:
            diags.error(fpos.get("data", sec.pos), f"stage '{st.name}' (sft) reads chat records: its data must be a "
                                                   f"source or curation, not the mix '{st.data}'")
        known_data = st.data in mixes or st.data in sources or st.data in curations
        if st.kind in ("pretrain", "midtrain", "longctx") and known_data and st.tokenizer is None \
                and "tokenizer" not in present and st.name not in unknown_models:
            diags.error(fpos.get("data", sec.pos), f"stage '{st.name}' tokenizes '{st.data}' and needs a tokenizer: "
                                                   "give the model a 'tokenizer' (or the stage 'tokenizer = ...')")
        if st.kind in ("pretrain", "midtrain", "longctx", "sft") and st.model is None and "model" not in present:
            diags.error(sec.pos, f"stage '{st.name}' needs a 'model' (its own, or inherited through 'after')")
        if st.kind in ("pretrain", "midtrain", "longctx", "sft") and st.optimizer is None and st.after is None \
                and "lr" not in present:
            diags.error(sec.pos, f"stage '{st.name}' needs a learning rate ('lr = ...' or 'optimizer adamw {{ lr }}')")
        if st.tokens and st.batch and st.seq:
            per_step = st.batch[1] if st.batch[0] == "tokens" else st.batch[1] * st.seq
            if st.tokens // per_step == 0:
                diags.error(fpos.get("tokens", sec.pos),
                            f"stage '{st.name}': tokens = {st.tokens} is less than one batch ({per_step} tokens): zero steps")
        if st.batch and st.seq and st.batch[0] == "tokens" and st.batch[1] < st.seq:
            diags.error(fpos.get("batch", sec.pos),
                        f"stage '{st.name}': batch of {st.batch[1]} tokens is less than one sequence of {st.seq}")
        if st.steps == 0:
            diags.error(fpos.get("steps", sec.pos), f"stage '{st.name}': steps = 0 trains nothing")
