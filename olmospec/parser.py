"""Spec text -> syntax tree (olmospec.ast), with source positions on every node.

Syntax errors become a `SpecError` at `file:line:col` with a message in the user's terms ("expected
'=' or '{' after 'lr'"), never a lark traceback. Comments are collected on the side so that
`olmospec fmt` can put them back.
"""

from __future__ import annotations

import functools
import math
import re
from decimal import Decimal
from pathlib import Path

import lark
from lark import Lark, Token, Transformer, v_args

from olmospec import ast
from olmospec.errors import Pos, SpecError

_MAGNITUDE = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
_NUMBER_RE = re.compile(
    r"(?P<num>[+-]?(\d[\d_]*(\.\d+)?|\.\d+)([eE][+-]?\d+)?)(?P<suffix>[KMBT%x]?)([ \t]+(?P<unit>\S+))?$"
)

_TERMINAL_NAMES = {
    "NAME": "a name",
    "NUMBER": "a number",
    "STRING": "a string",
    "EQUAL": "'='",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "DOT": "'.'",
    "AFTER": "'after'",
    "FROM": "'from'",
    "FOR": "'for'",
    "$END": "end of file",
}


GRAMMAR = Path(__file__).parent / "grammar.lark"


@functools.lru_cache(maxsize=2)
def _lark(strict: bool = False) -> Lark:
    """The LALR parser. `strict=True` (conflicts and terminal collisions are errors) is what the
    tests build, so the grammar is proven unambiguous; at run time the parse table comes from lark's
    on-disk cache, because the collision check alone takes ~0.5 s, half of `olmospec check`'s
    budget."""
    grammar = GRAMMAR.read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", strict=strict, propagate_positions=True, maybe_placeholders=False,
                cache=not strict)


def _pos(file: str, meta) -> Pos:
    return Pos(file, meta.line, meta.column, meta.end_line, meta.end_column)


def _tok_pos(file: str, tok: Token) -> Pos:
    return Pos(file, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)


def parse_number(text: str, pos: Pos) -> ast.Number:
    m = _NUMBER_RE.match(text)
    if m is None:  # the lexer only produces matching text; this guards against grammar drift
        raise SpecError(pos, f"malformed number '{text}'")
    raw = m.group("num").replace("_", "")
    suffix = m.group("suffix") or ""
    unit = m.group("unit") or ""
    # Decimal keeps 5.93T exactly 5930000000000 (a float product would not).
    exact = Decimal(raw) * Decimal(int(_MAGNITUDE.get(suffix, 1)))
    value = float(exact)
    if not math.isfinite(value):
        raise SpecError(pos, f"number out of range: '{text}'")
    is_int = exact == exact.to_integral_value()
    return ast.Number(" ".join(text.split()), value, suffix, unit, is_int, pos)


class _ToAst(Transformer):
    def __init__(self, file: str):
        super().__init__()
        self.file = file

    @v_args(meta=True)
    def start(self, meta, items):
        return tuple(items)

    @v_args(meta=True)
    def assign(self, meta, children):
        path, value, *scope = children  # scope: [] or [the `for` keyword, its value]
        return ast.Assign(path[0], value, _pos(self.file, meta), scope[1] if scope else None)

    @v_args(meta=True)
    def section(self, meta, children):
        path = children[0][0]
        atom = None
        clauses: list[ast.Clause] = []
        body = None
        end_pos = None
        for c in children[1:]:
            if isinstance(c, ast.Clause):
                clauses.append(c)
            elif isinstance(c, tuple) and len(c) == 2 and c[0] == "body":
                body, end_pos = c[1]
            else:
                atom = c
        return ast.Section(path, atom, tuple(clauses), body, _pos(self.file, meta), end_pos)

    @v_args(meta=True)
    def clause(self, meta, children):
        kw, value = children
        return ast.Clause(str(kw), value, _pos(self.file, meta))

    @v_args(meta=True)
    def body(self, meta, items):
        end = Pos(self.file, meta.end_line, max(meta.end_column - 1, 1))
        return ("body", (tuple(items), end))

    @v_args(meta=True)
    def path(self, meta, names):
        return (tuple(str(n) for n in names), _pos(self.file, meta))

    @v_args(meta=True)
    def name(self, meta, children):
        return ast.Name(str(children[0]), _pos(self.file, meta))

    @v_args(meta=True)
    def dotted(self, meta, children):
        return ast.Dotted(tuple(str(c) for c in children), _pos(self.file, meta))

    @v_args(meta=True)
    def number(self, meta, children):
        return parse_number(str(children[0]), _pos(self.file, meta))

    @v_args(meta=True)
    def string(self, meta, children):
        raw = str(children[0])[1:-1]
        value = re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), raw)
        return ast.String(value, _pos(self.file, meta))

    @v_args(meta=True)
    def list(self, meta, items):
        return ast.ListV(tuple(items), _pos(self.file, meta))

    @v_args(meta=True)
    def tuple(self, meta, items):
        return ast.TupleV(tuple(items), _pos(self.file, meta))

    @v_args(meta=True)
    def call(self, meta, children):
        name, *args = children
        pos_args = tuple(a for a in args if not isinstance(a, ast.KwArg))
        kwargs = tuple(a for a in args if isinstance(a, ast.KwArg))
        return ast.Call(str(name), pos_args, kwargs, _pos(self.file, meta))

    @v_args(meta=True)
    def kwarg(self, meta, children):
        name, value = children
        return ast.KwArg(str(name), value, _pos(self.file, meta))


def parse(text: str, file: str = "<spec>") -> ast.SpecFile:
    """Parse spec text; raises SpecError (with a position) on a syntax error."""
    comments: list[ast.Comment] = []
    try:
        tree = _parse_collecting(text, comments)
    except lark.exceptions.UnexpectedInput as e:
        raise _syntax_error(e, text, file) from None
    try:
        items = _ToAst(file).transform(tree)
    except lark.exceptions.VisitError as e:  # a SpecError raised while building a node
        if isinstance(e.orig_exc, SpecError):
            raise e.orig_exc from None
        raise
    return ast.SpecFile(file, items, tuple(comments), text)


def _parse_collecting(text: str, comments: list[ast.Comment]):
    # Comments are %ignore'd by the grammar; scanning for them here keeps the parser cached and
    # simple. A '#' inside a string is not a comment.
    for m in re.finditer(r'"(?:[^"\\\n]|\\.)*"|(#[^\n]*)', text):
        if m.group(1) is not None:
            line = text.count("\n", 0, m.start()) + 1
            col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
            comments.append(ast.Comment(m.group(1).rstrip(), line, col))
    return _lark().parse(text)


def parse_file(path: str | Path) -> ast.SpecFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(Pos(str(path), 0, 0), "file not found") from None
    except UnicodeDecodeError as e:
        raise SpecError(Pos(str(path), 0, 0), f"not valid UTF-8 (byte {e.start})") from None
    except OSError as e:
        raise SpecError(Pos(str(path), 0, 0), f"cannot read: {e.strerror}") from None
    return parse(text, str(path))


def _describe(expected: set[str]) -> str:
    names = sorted({_TERMINAL_NAMES.get(t, f"'{t.lower()}'") for t in expected if not t.startswith("__")})
    if not names:
        return ""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _unclosed_brace(text: str) -> tuple[int, int] | None:
    stack: list[tuple[int, int]] = []
    line, col = 1, 0
    in_str = in_comment = False
    prev = ""
    for ch in text:
        col += 1
        if ch == "\n":
            line, col, in_comment = line + 1, 0, False
            in_str = False
        elif in_comment:
            pass
        elif in_str:
            if ch == '"' and prev != "\\":
                in_str = False
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_str = True
        elif ch == "{":
            stack.append((line, col))
        elif ch == "}" and stack:
            stack.pop()
        prev = ch
    return stack[-1] if stack else None


def _syntax_error(e: lark.exceptions.UnexpectedInput, text: str, file: str) -> SpecError:
    line, col = getattr(e, "line", 1) or 1, getattr(e, "column", 1) or 1
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        ch = text[e.pos_in_stream] if e.pos_in_stream < len(text) else ""
        hint = None
        if ch == '"':
            hint = "strings end on the line they start"
        elif ch.isdigit() or ch in "+-.":
            hint = "numbers look like 3e-4, 5.93T, 76.1%, 7x or '2000 steps'"
        return SpecError(Pos(file, line, col, line, col + 1), f"unexpected character {ch!r}", hint)
    if isinstance(e, lark.exceptions.UnexpectedEOF) or (
        isinstance(e, lark.exceptions.UnexpectedToken) and e.token.type == "$END"
    ):
        open_brace = _unclosed_brace(text)
        lines = text.splitlines() or [""]
        end = Pos(file, len(lines), len(lines[-1]) + 1)
        if open_brace:
            return SpecError(
                Pos(file, open_brace[0], open_brace[1], open_brace[0], open_brace[1] + 1),
                "this '{' is never closed",
            )
        expected = getattr(e, "expected", set())
        return SpecError(end, f"unexpected end of file; expected {_describe(set(expected))}")
    assert isinstance(e, lark.exceptions.UnexpectedToken)
    tok = e.token
    shown = str(tok)
    expected = set(e.accepts or e.expected)
    what = f"unexpected {_TERMINAL_NAMES.get(tok.type, repr(shown))}"
    if tok.type in ("NAME", "NUMBER", "STRING"):
        what = f"unexpected {_TERMINAL_NAMES[tok.type]} '{shown}'"
    msg = f"{what}; expected {_describe(expected)}" if expected else what
    hint = None
    if tok.type == "RBRACE" and "RBRACE" not in expected:
        hint = "a '}' closes a block that was never opened, or a value is missing before it"
    if tok.type == "EQUAL":
        hint = "a field is 'name = value'; a unit word binds to the number before it ('2000 steps')"
    return SpecError(_tok_pos(file, tok), msg, hint)
