"""The one cycle search that mixes (a mix inside itself) and curations (a curation reading itself
through `from`) share: the check reports the chain, so the user sees which names to untangle."""

from __future__ import annotations

from collections.abc import Callable, Iterable


def cycle_through(name: str, children: Callable[[str], Iterable[str]]) -> list[str] | None:
    """The chain `name -> ... -> name` if `name` reaches itself through `children`, else None.
    `children(n)` lists what n reads; names it does not know return nothing."""
    def visit(n: str, chain: list[str]) -> list[str] | None:
        for c in children(n):
            if c == name:
                return chain + [name]
            if c not in chain:
                found = visit(c, chain + [c])
                if found:
                    return found
        return None

    return visit(name, [name])
