"""Seeds: which variants run once per seed, and the seed each of their stages gets.

`seeds = [1, 2, 3]` runs every variant once per seed; `seeds = [1, 2, 3] for [base, spurious_reward]`
only the variants named (an ablation, a sweep with all its points, `base`, or one sweep point written
as a string, `"sft_lr[sft.lr=1e-4]"`). A seeded variant is named `NAME@seedN`; every other variant
keeps its plain name and runs as the first seed would. `seeds_from = STAGE` varies the seed from
that stage on; the stages before it get the first seed in every variant, so they are shared.

Why the first seed: a variant run "without seeds" is then exactly the first seed of the same variant
with seeds, so adding a variant to (or removing it from) the `for` list reruns only its other seeds,
and a sweep point equal to the base shares every stage with `base@seed1`.
"""

from __future__ import annotations

from olmospec import ast
from olmospec.errors import Diagnostics, Pos, did_you_mean
from olmospec.ir import spec as S

EXAMPLE = "seeds = [1, 2, 3] for [base, no_dpo]"


def read_seeds_for(assign: ast.Assign | None, seeds: tuple[int, ...] | None, diags: Diagnostics) -> tuple[str, ...] | None:
    """The variant names after `for` in the top-level `seeds` line (None: every variant)."""
    if assign is None or assign.applies_to is None:
        return None
    v = assign.applies_to
    items = v.items if isinstance(v, ast.ListV) else (v,)
    names: list[str] = []
    for it in items:
        if not isinstance(it, ast.Name | ast.String) or (isinstance(it, ast.String) and "@" in it.value):
            diags.error(it.pos, f"'for' takes variant names (base, an ablation or a sweep, or a sweep point as "
                        f"a string): {EXAMPLE}")
            return None
        names.append(it.name if isinstance(it, ast.Name) else it.value)
    if not names:
        diags.error(v.pos, f"'for' needs at least one variant: {EXAMPLE}")
        return None
    if seeds is not None and len(seeds) < 2:
        diags.error(v.pos, "with one seed, 'for' changes nothing: list two or more seeds, or remove 'for'")
    return tuple(names)


def written_names(items: tuple[ast.Item, ...]) -> list[tuple[str, Pos]]:
    """Each name after `seeds ... for`, where it is written (for errors about it)."""
    a = next((i for i in items if isinstance(i, ast.Assign) and i.key == "seeds"), None)
    if a is None or a.applies_to is None:
        return []
    v = a.applies_to
    return [(it.name if isinstance(it, ast.Name) else it.value, it.pos)
            for it in (v.items if isinstance(v, ast.ListV) else (v,)) if isinstance(it, ast.Name | ast.String)]


def check_scopes(items: tuple[ast.Item, ...], diags: Diagnostics, top: bool = True) -> None:
    """`for` follows the top-level `seeds` only; anywhere else it would silently mean nothing."""
    for it in items:
        if isinstance(it, ast.Assign) and it.applies_to is not None and not (top and it.key == "seeds"):
            diags.error(it.applies_to.pos, f"'for' applies to the top-level 'seeds' only ({EXAMPLE}), "
                        f"not to '{it.key}'")
        elif isinstance(it, ast.Section) and it.body:
            check_scopes(it.body, diags, top=False)


def check_names(written: list[tuple[str, Pos]], declared: set[str], points: set[str], diags: Diagnostics) -> None:
    """Every name after `for` is a variant (`base`, an ablation or sweep, or as a string a sweep
    point), listed once."""
    known = {"base"} | declared | points
    seen: set[str] = set()
    for name, pos in written:
        if name in seen:
            diags.error(pos, f"variant '{name}' is listed twice after 'for'")
        seen.add(name)
        if name in known:
            continue
        family = name.split("[", 1)[0]
        mine = sorted(p for p in points if p.split("[", 1)[0] == family)
        hint = f" (its points: {', '.join(mine)})" if mine and family != name else did_you_mean(name, known)
        diags.error(pos, f"unknown variant '{name}' after 'for'{hint}")


def is_seeded(spec: S.Spec, name: str) -> bool:
    """Whether variant `name` (`base`, `no_dpo`, `sft_lr[sft.lr=1e-4]`) runs once per seed."""
    if spec.seeds_for is None:
        return True
    return name in spec.seeds_for or name.split("[", 1)[0] in spec.seeds_for


def seeds_of(spec: S.Spec, name: str) -> tuple[tuple[str, int], ...]:
    """(variant name, seed) for each run of variant `name`."""
    if len(spec.seeds) == 1 or not is_seeded(spec, name):
        return ((name, spec.seeds[0]),)
    return tuple((f"{name}@seed{s}", s) for s in spec.seeds)


def check_seedable(spec: S.Spec, items, diags: Diagnostics, where: str = "") -> None:
    """A stage that `seeds` would vary must not pin its own seed: the list would silently not apply.
    `where` prefixes the message (`in ablation 'x': `)."""
    order = stage_order(spec)
    start = order.index(spec.seeds_from) if spec.seeds_from in order else 0
    for name in order[start:]:
        if spec.stages[name].seed is not None:
            sec = next((i for i in items if isinstance(i, ast.Section) and i.kind == "stage" and i.name == name), None)
            pos = next((a.pos for a in (sec.body or ()) if isinstance(a, ast.Assign) and a.key == "seed"), None) \
                if sec else None
            diags.error(pos or (sec.pos if sec else Pos(spec.file, 0, 0)), f"{where}stage '{name}' sets its own seed, "
                        f"so 'seeds' cannot vary it: remove it, or set 'seeds_from' to a later stage")


def with_seed(spec: S.Spec, seed: int) -> S.Spec:
    """The spec with `seed` on every stage from `seeds_from` on and the first seed before it (a stage
    that sets its own seed keeps it)."""
    order = stage_order(spec)
    start = spec.seeds_from
    active = start is None
    stages = dict(spec.stages)
    for name in order:
        if name == start:
            active = True
        st = stages[name]
        if active and st.seed is None:
            stages[name] = st.model_copy(update={"seed": seed})
        elif st.seed is None:
            stages[name] = st.model_copy(update={"seed": spec.seeds[0]})
    return spec.model_copy(update={"stages": stages})


def stage_order(spec: S.Spec) -> list[str]:
    done: list[str] = []
    pending = sorted(spec.stages)
    while pending:
        for n in pending:
            a = spec.stages[n].after
            if a is None or a in done or a not in spec.stages:
                done.append(n)
                pending.remove(n)
                break
        else:  # a cycle; resolve has reported it
            done.extend(pending)
            break
    return done



def drop_seeds_from_if_gone(items: tuple, variant: str, seeded: bool, diags: Diagnostics) -> tuple:
    """A variant that drops the `seeds_from` stage (a data ablation measured before post-training)
    has nothing to vary the seed from: when the variant is not seeded that is fine, the line is
    ignored for it; when it is seeded, an error says so."""
    line = next((i for i in items if isinstance(i, ast.Assign) and i.key == "seeds_from"), None)
    if line is None or not isinstance(line.value, ast.Name):
        return items
    stages = {i.name for i in items if isinstance(i, ast.Section) and i.kind == "stage"}
    if line.value.name in stages:
        return items
    if seeded:
        diags.error(line.pos, f"variant '{variant}' drops stage '{line.value.name}' (seeds_from) but runs "
                    f"with several seeds: keep the stage in it, or leave it out of 'seeds = [...] for [...]'")
    return tuple(i for i in items if i is not line)
