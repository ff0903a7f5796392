"""The syntax tree of a spec: generic items and typed values, each with its source position.

The tree says nothing about meaning (that is resolve.py's job); it is what the formatter prints and
what ablations edit (an ablation is a transformation of the base tree, so the same resolver checks
base and variants alike and errors keep pointing at the line that caused them).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from olmospec.errors import Pos


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Dotted:
    parts: tuple[str, ...]
    pos: Pos

    @property
    def name(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True, slots=True)
class Number:
    """`5.93T`, `76.1%`, `7x`, `2000 steps`: the text as written, the value with magnitude applied
    (percent stays in percent: `76.1%` has value 76.1 and suffix `%`), and the unit word."""

    text: str
    value: float
    suffix: str  # "", "K", "M", "B", "T", "%", "x"
    unit: str  # "" or a unit word such as "tokens", "steps"
    is_int: bool
    pos: Pos


@dataclass(frozen=True, slots=True)
class String:
    value: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class ListV:
    items: tuple[Value, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class TupleV:
    items: tuple[Value, ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class KwArg:
    name: str
    value: Value
    pos: Pos


@dataclass(frozen=True, slots=True)
class Call:
    name: str
    args: tuple[Value, ...]
    kwargs: tuple[KwArg, ...]
    pos: Pos


Value = Name | Dotted | Number | String | ListV | TupleV | Call


@dataclass(frozen=True, slots=True)
class Assign:
    path: tuple[str, ...]
    value: Value
    pos: Pos
    applies_to: Value | None = None  # `seeds = [1, 2] for [base, x]`: the value after `for`

    @property
    def key(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class Clause:
    keyword: str  # "after" | "from"
    value: Value
    pos: Pos


@dataclass(frozen=True, slots=True)
class Section:
    """`path [atom] [clause ...] [{ body }]`; `body is None` for a one-line statement."""

    path: tuple[str, ...]
    atom: Name | Number | String | None
    clauses: tuple[Clause, ...]
    body: tuple[Item, ...] | None
    pos: Pos
    end_pos: Pos | None = None  # the closing brace, where trailing comments attach

    @property
    def kind(self) -> str:
        return ".".join(self.path)

    @property
    def name(self) -> str | None:
        return self.atom.name if isinstance(self.atom, Name) else None

    def clause(self, keyword: str) -> Clause | None:
        return next((c for c in self.clauses if c.keyword == keyword), None)

    def with_body(self, body: tuple[Item, ...] | None) -> Section:
        return replace(self, body=body)


Item = Assign | Section


@dataclass(frozen=True, slots=True)
class Comment:
    text: str
    line: int
    col: int


@dataclass(frozen=True, slots=True)
class SpecFile:
    path: str
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=())
    source: str = ""


def value_pos(v: Value) -> Pos:
    return v.pos
