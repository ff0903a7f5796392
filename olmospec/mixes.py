"""A mix flattened to the components a mix stage reads: every source or curation under it, once.

A mix entry may be another mix (`long_mix { long_docs 34%  mid_mix 66% }`); its entries then enter
with their shares multiplied (66% x 20% = 13.2%). Two rules make the flattened mix say what the spec
says, and the compiler (the mix stage's config) and the checks (repetition caps) both use them:

- a cap bounds everything under it: a component reached through entries with caps `max_repeat = 4x`
  and `2x` repeats at most 2x (the smallest cap written on its path; none written means the
  default, each token at most once);
- a source reached through several entries (directly and inside a nested mix) is ONE component: its
  shares add up, and it may repeat as often as the most permissive of its paths allows.
"""

from __future__ import annotations

from dataclasses import dataclass

from olmospec.ir import spec as S


@dataclass
class Component:
    name: str  # a source or curation
    share: float  # of the whole mix
    max_repeat: float | None  # None: no cap written on any path (each token at most once)
    via: str  # the entry of the top-level mix it is reached through first (for error positions)


def flatten(name: str, mixes: dict[str, S.Mix]) -> list[Component]:
    """The components of mix `name`, in first-reached order. A mix cycle is cut (resolve reports it)."""
    shares: dict[str, float] = {}
    caps: dict[str, list[float | None]] = {}
    via: dict[str, str] = {}

    def walk(mix: str, share: float, path_caps: tuple[float, ...], top: str | None, stack: tuple[str, ...]):
        for e in mixes[mix].entries:
            here = path_caps + ((e.max_repeat,) if e.max_repeat is not None else ())
            entry = top or e.name
            if e.name in mixes:
                if e.name not in stack:
                    walk(e.name, share * e.share, here, entry, stack + (e.name,))
                continue
            shares[e.name] = shares.get(e.name, 0.0) + share * e.share
            caps.setdefault(e.name, []).append(min(here) if here else None)
            via.setdefault(e.name, entry)

    walk(name, 1.0, (), None, (name,))
    out = []
    for n, share in shares.items():
        written = [c for c in caps[n] if c is not None]
        cap = max((c if c is not None else 1.0) for c in caps[n]) if written else None
        out.append(Component(n, share, cap, via[n]))
    return out


def mix_cycle(name: str, mixes: dict[str, S.Mix]) -> list[str] | None:
    """The chain `name -> ... -> name` if mix `name` contains itself, else None."""
    from olmospec.cycles import cycle_through

    return cycle_through(name, lambda m: [e.name for e in mixes[m].entries] if m in mixes else [])
