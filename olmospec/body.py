"""Reading a block's body against a field table: unknown fields, duplicates and bad values are
errors at their position (with a did-you-mean), collected rather than raised one at a time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from olmospec import ast
from olmospec.errors import Diagnostics, SpecError, did_you_mean

MISSING: Any = object()


class Body:
    """The assignments and nested sections of one block, checked against what the block allows."""

    def __init__(
        self,
        owner: str,
        items: tuple[ast.Item, ...] | None,
        diags: Diagnostics,
        fields: set[str] | dict[str, Any],
        sections: set[str] = frozenset(),  # type: ignore[assignment]
    ):
        self.owner = owner
        self.diags = diags
        self.assigns: dict[str, ast.Assign] = {}
        self.sections: list[ast.Section] = []
        self.used: set[str] = set()
        allowed = set(fields)
        for item in items or ():
            if isinstance(item, ast.Assign):
                key = item.key
                if key not in allowed:
                    # a dotted field whose head is an allowed section: `rope.theta = ...`
                    self.diags.error(item.pos, f"unknown field '{key}' in {owner}{did_you_mean(key, allowed)}")
                elif key in self.assigns:
                    first = self.assigns[key].pos
                    self.diags.error(item.pos, f"'{key}' is set twice in {owner} (first at line {first.line})")
                else:
                    self.assigns[key] = item
            else:
                if item.kind not in sections:
                    choices = set(sections) | allowed
                    what = "statement" if item.body is None else "block"
                    self.diags.error(
                        item.pos, f"unknown {what} '{item.kind}' in {owner}{did_you_mean(item.kind, choices)}"
                    )
                else:
                    self.sections.append(item)

    def has(self, key: str) -> bool:
        return key in self.assigns

    def pos_of(self, key: str):
        return self.assigns[key].pos

    def get(self, key: str, conv: Callable[[ast.Value], Any], default: Any = MISSING, *, required_pos=None) -> Any:
        """The converted value of `key`, `default` when absent; an error (and `default`) when the
        value is bad, or when the field is absent and required (`required_pos` given)."""
        a = self.assigns.get(key)
        if a is None:
            if required_pos is not None:
                self.diags.error(required_pos, f"{self.owner} needs '{key}'")
            return None if default is MISSING else default
        try:
            return conv(a.value)
        except SpecError as e:
            if not e.message.startswith((f"{key}:", f"{key} ")):
                e = SpecError(e.pos, f"{key}: {e.message}", e.hint)
            self.diags.add(e)
            return None if default is MISSING else default

    def value(self, key: str) -> ast.Value | None:
        a = self.assigns.get(key)
        return a.value if a else None

    def section(self, kind: str) -> ast.Section | None:
        found = [s for s in self.sections if s.kind == kind]
        for extra in found[1:]:
            self.diags.error(extra.pos, f"'{kind}' appears twice in {self.owner} (first at line {found[0].pos.line})")
        return found[0] if found else None
