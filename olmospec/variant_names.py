"""Variant names a user types: `base`, an ablation or sweep name, a sweep point, `NAME@seedN`.

A spec with `seeds = [1, 2, 3]` has one variant per seed: `base@seed1`, `no_dpo@seed3`, and for a
sweep one per point and seed, `sft_lr[sft.lr=1e-4]@seed2`. A name selects:

- `base`, `no_dpo`, `sft_lr`: every variant of the base, that ablation or that sweep (all its points
  and seeds);
- `sft_lr[sft.lr=1e-4]`: one sweep point, all its seeds;
- any of them followed by `@seedN` (or `@N`): that seed only.

With a single seed the names have no `@seed` part, and with `seeds = [1, 2, 3] for [base, x]`
only the variants named have one (olmospec/seeds.py). Used by `plan --variant`, `graph --variant`
and `run --variant`.
"""

from __future__ import annotations

from olmospec.errors import Pos, SpecError, did_you_mean


def split(name: str) -> tuple[str, str, str | None]:
    """`sft_lr[sft.lr=1e-4]@seed2` -> ('sft_lr', 'sft_lr[sft.lr=1e-4]', 'seed2')."""
    group, _, seed = name.partition("@")
    return group.split("[", 1)[0], group, seed or None


def select_variants(names: list[str], query: str) -> list[str]:
    """The variant names (in their order) that `query` selects; [] when none."""
    _, qgroup, qseed = split(query)
    if qseed and qseed.isdigit():
        qseed = f"seed{qseed}"
    out = []
    for n in names:
        family, group, seed = split(n)
        if query == n or (qgroup in (group, family) and (qseed is None or qseed == seed)):
            out.append(n)
    return out


def typed_names(names: list[str]) -> set[str]:
    """Every name `select_variants` accepts for these variants (for did-you-mean)."""
    out = set(names)
    for n in names:
        family, group, _ = split(n)
        out |= {family, group}
    return out


def check_variant(names: list[str], query: str) -> list[str]:
    """The selected variants, or a SpecError that lists what exists (with a did-you-mean)."""
    hits = select_variants(names, query)
    if not hits:
        groups = sorted({split(n)[1] for n in names})
        shown = ", ".join(groups[:12]) + (", ..." if len(groups) > 12 else "")
        raise SpecError(Pos("<command line>", 0, 0), f"unknown variant '{query}'"
                        f"{did_you_mean(query, typed_names(names))} (variants: {shown})")
    return hits
