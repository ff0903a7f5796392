"""Ablations, sweeps and seeds -> concrete variants, each a fully resolved Spec.

An ablation is a delta on the base experiment's syntax tree: set a field (`sft.lr = 1e-4`), turn a
block off (`web.upsample = off`), drop a stage (`drop dpo`: stages and evals after it rewire to its
predecessor) or replace a block's body (`replace olmo3_7b { ... }`). Editing the tree, not the
resolved IR, means a variant goes through exactly the same checks as the base, and an error in an
ablation points at the ablation's own line.

A sweep is a cartesian product of field values (`sweep lr { sft.lr = [2.5e-5, 5e-5, 1e-4] }`);
`seeds = [1, 2, 3]` multiplies every variant (`seeds = [1, 2, 3] for [base, x]` the variants named),
setting the seed of each training stage (from `seeds_from` on, if given), so that stages before it
are shared by all seeds (olmospec/seeds.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace

from olmospec import ast, seeds
from olmospec.errors import Diagnostics, SpecError, SpecErrors, did_you_mean
from olmospec.ir import spec as S
from olmospec.resolve import resolve
from olmospec.resolve_blocks import step_kind


@dataclass(frozen=True)
class Variant:
    name: str
    kind: str  # "base" | "ablation" | "sweep"
    spec: S.Spec
    seed: int | None = None
    changes: tuple[str, ...] = ()  # human-readable deltas, for plan/diff/report


@dataclass
class Experiment:
    file: str
    base: S.Spec
    variants: list[Variant] = field(default_factory=list)
    items: tuple[ast.Item, ...] = ()
    warnings: tuple[SpecError, ...] = ()


_OFF = ("off", "none")


def _top_blocks(items):
    return [i for i in items if isinstance(i, ast.Section) and i.kind not in ("ablation", "sweep")]


def _find_top(items, name: str):
    for i, it in enumerate(items):
        if isinstance(it, ast.Section) and it.kind not in ("ablation", "sweep", "report") and it.name == name:
            return i
    return None


def _matches(sec: ast.Section, key: str) -> bool:
    return sec.kind == key or step_kind(sec) == key


# Settings with two spellings: `lr` or `optimizer { lr }`, `rope_theta` or `rope { theta }`. An
# ablation edits whichever the block already uses, so it cannot create a second, conflicting one.
_ALIASES = {"lr": ("optimizer", "lr"), "z_loss": ("optimizer", "z_loss"), "rope_theta": ("rope", "theta")}
_STEP_GROUPS = {"dedup"}


def _set_in_body(body: tuple[ast.Item, ...], rest: tuple[str, ...], value: ast.Value, pos,
                 in_mix: bool = False) -> tuple[ast.Item, ...]:
    key = rest[0]
    items = list(body)
    if key in _STEP_GROUPS:
        raise SpecError(pos, f"'{key}' names several steps: name one ('exact', 'minhash' or 'substring')")
    if len(rest) == 1 and key in _ALIASES and not any(isinstance(i, ast.Assign) and i.key == key for i in items):
        section, field = _ALIASES[key]
        if any(isinstance(i, ast.Section) and i.kind == section and any(
                isinstance(a, ast.Assign) and a.key == field for a in i.body or ()) for i in items):
            return _set_in_body(body, (section, field), value, pos)
    if len(rest) == 1:
        for i, it in enumerate(items):
            if isinstance(it, ast.Assign) and it.key == key:
                items[i] = ast.Assign(it.path, value, it.pos)
                return tuple(items)
            if isinstance(it, ast.Section) and _matches(it, key):
                if isinstance(value, ast.Name) and value.name in _OFF:
                    del items[i]
                    return tuple(items)
                if isinstance(it.atom, ast.Number) and isinstance(value, ast.Number):  # a mix share
                    items[i] = replace(it, atom=value)
                    return tuple(items)
                if isinstance(value, ast.Name) and it.kind != "dedup":  # `schedule = linear`
                    items[i] = replace(it, atom=value)
                    return tuple(items)
                raise SpecError(pos, f"'{key}' is a block: set one of its fields, or turn it off with '= off'")
        if isinstance(value, ast.Name) and value.name in _OFF:
            there = {i.kind for i in items if isinstance(i, ast.Section)} | {
                k for i in items if isinstance(i, ast.Section) for k in (step_kind(i),) if k}
            raise SpecError(pos, f"there is no '{key}' to turn off{did_you_mean(key, there)}")
        if in_mix and isinstance(value, ast.Number) and value.suffix == "%":  # a new mix entry
            return tuple(items) + (ast.Section((key,), value, (), None, pos),)
        return tuple(items) + (ast.Assign((key,), value, pos),)
    for i, it in enumerate(items):
        if isinstance(it, ast.Section) and _matches(it, key):
            items[i] = it.with_body(_set_in_body(it.body or (), rest[1:], value, pos))
            return tuple(items)
    new = ast.Section((key,), None, (), _set_in_body((), rest[1:], value, pos), pos)
    return tuple(items) + (new,)


def apply_set(items, path: tuple[str, ...], value: ast.Value, pos) -> tuple[ast.Item, ...]:
    idx = _find_top(items, path[0])
    if idx is None:
        names = {i.name for i in _top_blocks(items) if i.name}
        raise SpecError(pos, f"unknown block '{path[0]}'{did_you_mean(path[0], names)}")
    if len(path) == 1:
        raise SpecError(pos, f"'{path[0]}' is a block: set one of its fields ('{path[0]}.FIELD = ...')")
    items = list(items)
    block = items[idx]
    items[idx] = block.with_body(_set_in_body(block.body or (), path[1:], value, pos, in_mix=block.kind == "mix"))
    return tuple(items)


def apply_drop(items, stage: str, pos) -> tuple[ast.Item, ...]:
    """Remove a stage (what came after it continues from its predecessor) or an eval."""
    idx = _find_top(items, stage)
    if idx is None or items[idx].kind not in ("stage", "eval"):
        names = {i.name for i in _top_blocks(items) if i.kind in ("stage", "eval") and i.name}
        raise SpecError(pos, f"unknown stage or eval '{stage}'{did_you_mean(stage, names)}")
    if items[idx].kind == "eval":
        return tuple(items[:idx]) + tuple(items[idx + 1:])
    dropped = items[idx]
    prev = dropped.clause("after")
    out = []
    for i, it in enumerate(items):
        if i == idx:
            continue
        if isinstance(it, ast.Section) and it.kind in ("stage", "eval"):
            clauses = []
            for c in it.clauses:
                if c.keyword == "after":
                    c = _rewire(c, stage, prev, it, pos)
                    if c is None:
                        continue
                clauses.append(c)
            it = replace(it, clauses=tuple(clauses))
        out.append(it)
    return tuple(out)


def _rewire(c: ast.Clause, stage: str, prev: ast.Clause | None, owner: ast.Section, pos) -> ast.Clause | None:
    v = c.value
    if isinstance(v, ast.Name) and v.name == stage:
        if prev is None:
            if owner.kind == "eval":
                raise SpecError(pos, f"dropping '{stage}' leaves eval '{owner.name}' after nothing",
                                f"drop the eval too: 'drop {owner.name}'")
            return None
        return ast.Clause("after", prev.value, c.pos)
    if isinstance(v, ast.ListV):
        kept = tuple(x for x in v.items if not (isinstance(x, ast.Name) and x.name == stage))
        if not kept:
            raise SpecError(pos, f"dropping '{stage}' leaves {owner.kind} '{owner.name}' after nothing",
                            f"drop it too: 'drop {owner.name}'" if owner.kind == "eval" else None)
        return ast.Clause("after", replace(v, items=kept), c.pos)
    return c


def _in_drop_order(items, ops) -> list:
    """Drops apply evals first, then stages from the last one back, so that the order in which they
    are written does not matter ('drop sft  drop dpo' and 'drop dpo  drop sft' mean the same)."""
    def key(op):
        if not (isinstance(op, ast.Section) and op.kind == "drop" and op.name):
            return (0, 0)
        idx = _find_top(items, op.name)
        is_eval = idx is not None and items[idx].kind == "eval"
        return (1, 0 if is_eval else 1, -(idx or 0))
    drops = sorted((op for op in ops if key(op)[0]), key=key)
    return [op for op in ops if not key(op)[0]] + drops


def apply_ablation(items, abl: ast.Section) -> tuple[tuple[ast.Item, ...], tuple[str, ...]]:
    changes = []
    for op in _in_drop_order(items, list(abl.body or ())):
        if isinstance(op, ast.Assign):
            items = apply_set(items, op.path, op.value, op.pos)
            changes.append(f"{op.key} = {value_text(op.value)}")
        elif op.kind == "drop" and op.name and op.body is None:
            items = apply_drop(items, op.name, op.pos)
            changes.append(f"drop {op.name}")
        elif op.kind == "replace" and op.name and op.body is not None:
            idx = _find_top(items, op.name)
            if idx is None:
                names = {i.name for i in _top_blocks(items) if i.name}
                raise SpecError(op.pos, f"unknown block '{op.name}'{did_you_mean(op.name, names)}")
            items = tuple(items[:idx]) + (items[idx].with_body(op.body),) + tuple(items[idx + 1:])
            changes.append(f"replace {op.name}")
        else:
            raise SpecError(op.pos, "an ablation holds 'FIELD.PATH = VALUE', 'drop STAGE' or 'replace BLOCK { ... }'")
    return items, tuple(changes)


def value_text(v: ast.Value) -> str:
    if isinstance(v, ast.Number):
        return v.text
    if isinstance(v, ast.Name):
        return v.name
    if isinstance(v, ast.String):
        return f'"{v.value}"'
    if isinstance(v, ast.ListV):
        return "[" + ", ".join(value_text(i) for i in v.items) + "]"
    if isinstance(v, ast.Dotted):
        return v.name
    return "..."


def sweep_points(sw: ast.Section) -> list[tuple[tuple[ast.Assign, ...], str]]:
    axes = []
    for op in sw.body or ():
        if not isinstance(op, ast.Assign) or not isinstance(op.value, ast.ListV) or not op.value.items:
            raise SpecError(op.pos, "a sweep holds 'FIELD.PATH = [VALUE, ...]' lines")
        # the field's position, so an error about the field is reported once, at the field name
        axes.append([ast.Assign(op.path, v, op.pos) for v in op.value.items])
    if not axes:
        raise SpecError(sw.pos, f"sweep '{sw.name}' is empty")
    return [(combo, ",".join(f"{a.key}={value_text(a.value)}" for a in combo)) for combo in itertools.product(*axes)]


def expand(items: tuple[ast.Item, ...], file: str) -> Experiment:
    """Base + ablations + sweep points, times seeds; every variant resolved and checked.

    Errors in ablations and sweeps are reported even while the base has errors of its own; an error
    a variant shares with the base is reported once, as the base's."""
    base_items = tuple(i for i in items if not (isinstance(i, ast.Section) and i.kind in ("ablation", "sweep")))
    warnings: list[SpecError] = []
    diags = Diagnostics()
    base: S.Spec | None = None
    try:
        base = resolve(base_items, file, warnings)
    except (SpecErrors, SpecError) as e:
        for err in e.errors if isinstance(e, SpecErrors) else [e]:
            diags.add(err)
    in_base = {_where(e) for e in diags.errors}
    raw: list[tuple[str, str, tuple, tuple[str, ...], ast.Section | None]] = [("base", "base", base_items, (), None)]
    seen = {"base"}
    for sec in items:
        if not isinstance(sec, ast.Section) or sec.kind not in ("ablation", "sweep"):
            continue
        if not sec.name or sec.body is None:
            diags.error(sec.pos, f"a {sec.kind} needs a name and a body: '{sec.kind} NAME {{ ... }}'")
            continue
        if sec.name in seen:
            diags.error(sec.atom.pos, f"variant '{sec.name}' is defined twice")
            continue
        seen.add(sec.name)
        try:
            if sec.kind == "ablation":
                v_items, changes = apply_ablation(base_items, sec)
                raw.append((sec.name, "ablation", v_items, changes, sec))
            else:
                for combo, label in sweep_points(sec):
                    v_items = base_items
                    for a in combo:
                        v_items = apply_set(v_items, a.path, a.value, a.pos)
                    raw.append((f"{sec.name}[{label}]", "sweep", v_items,
                                tuple(f"{a.key} = {value_text(a.value)}" for a in combo), sec))
        except SpecError as e:
            diags.add(e.with_message(f"in {sec.kind} '{sec.name}': {e.message}"))
    seeds.check_scopes(items, diags)
    points = {name for name, kind, *_ in raw if kind == "sweep"}
    seeds.check_names(seeds.written_names(items), seen - {"base"}, points, diags)
    variants: list[Variant] = []
    for name, kind, v_items, changes, sec in raw:
        if kind == "base":
            spec = base
        else:
            v_items = seeds.drop_seeds_from_if_gone(v_items, name, base is not None and len(base.seeds) > 1
                                                    and seeds.is_seeded(base, name), diags)
            try:
                spec = resolve(v_items, file)
            except (SpecErrors, SpecError) as e:
                for err in e.errors if isinstance(e, SpecErrors) else [e]:
                    if _where(err) not in in_base:  # the base's own error, reported once
                        diags.add(_at_variant(err, kind, sec, base_items))
                continue
        if spec is None:
            continue
        runs = seeds.seeds_of(base if base is not None else spec, name)
        if len(runs) > 1:
            seeds.check_seedable(spec, v_items, diags, f"in {kind} '{sec.name}': " if sec is not None else "")
        for vname, s in runs:
            variants.append(Variant(vname, kind, seeds.with_seed(spec, s), s, changes))
    if base is not None:
        _check_reports(items, base, {v.name.split("@")[0] for v in variants}, diags)
        from olmospec.report_checks import check_findings

        check_findings(items, base, variants, diags)
    diags.warnings = warnings
    diags.raise_if_any()
    return Experiment(file, base, variants, items, tuple(warnings))


def _where(e: SpecError) -> tuple:
    return (e.pos.file, e.pos.line, e.pos.col, e.message)


def _at_variant(err: SpecError, kind: str, sec: ast.Section, base_items) -> SpecError:
    """An error a variant causes, at the variant's own line: kept where it is when it already points
    inside the ablation or sweep; else moved to the operation that edits the block where the
    error arose (or the only operation, or the ablation's name), with the base line as a note."""
    msg = f"in {kind} '{sec.name}': {err.message}"
    if _inside(err.pos, sec):
        return SpecError(err.pos, msg, err.hint, err.notes)
    ops = [op for op in sec.body or () if isinstance(op, ast.Assign | ast.Section)]
    block = next((b for b in base_items if isinstance(b, ast.Section) and b.name and _inside(err.pos, b)), None)
    target = [op for op in ops if block is not None and _op_target(op) == block.name]
    at = target[0].pos if target else ops[0].pos if len(ops) == 1 else sec.atom.pos
    return SpecError(at, msg, err.hint, ((err.pos, "where it shows in the base spec"), *err.notes))


def _op_target(op) -> str | None:
    return op.path[0] if isinstance(op, ast.Assign) else op.name


def _inside(pos, sec: ast.Section) -> bool:
    p = sec.pos
    end = (p.end_line, p.end_col) if p.end_line else (p.line, p.col)
    return pos.file == p.file and (p.line, p.col) <= (pos.line, pos.col) <= end


def _check_reports(items, base: S.Spec, variant_names: set[str], diags: Diagnostics) -> None:
    """A report's columns name tasks (or RULER lengths) that some eval runs; its baseline a variant."""
    tasks = {t for ev in base.evals.values() for t in ev.tasks}
    lengths = {f"ruler@{n}" for ev in base.evals.values() for n in ev.ruler}
    for sec in items:
        if not (isinstance(sec, ast.Section) and sec.kind == "report" and sec.name in base.reports):
            continue
        rep = base.reports[sec.name]
        where = {a.key: a.value.pos for a in sec.body or () if isinstance(a, ast.Assign)}
        for col in rep.columns:
            if col not in tasks | lengths:
                what = "RULER length" if col.startswith("ruler@") else "task"
                diags.error(where.get("columns", sec.pos), f"report '{rep.name}': column '{col}' is no {what} an eval "
                            f"runs{did_you_mean(col, tasks | lengths)}")
        if rep.baseline not in variant_names:
            diags.error(where.get("baseline", sec.pos), f"report '{rep.name}': unknown baseline variant "
                        f"'{rep.baseline}'{did_you_mean(rep.baseline, variant_names)}")
