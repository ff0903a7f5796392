"""`olmospec fmt`: print a spec in canonical layout, keeping its comments.

Canonical means: two-space indentation, one space around `=`, items that the author put on one line
stay on one line (joined by two spaces), at most one blank line between items, and every comment
kept where it was (before an item, at the end of its line, or before a closing brace). Formatting
the output again changes nothing (tests check this on every spec in the repo).
"""

from __future__ import annotations

import json

from olmospec import ast

IND = "  "


def value(v: ast.Value) -> str:
    if isinstance(v, ast.Number):
        return v.text
    if isinstance(v, ast.String):
        return json.dumps(v.value, ensure_ascii=False)
    if isinstance(v, ast.Name):
        return v.name
    if isinstance(v, ast.Dotted):
        return v.name
    if isinstance(v, ast.ListV):
        return "[" + ", ".join(value(i) for i in v.items) + "]"
    if isinstance(v, ast.TupleV):
        return "(" + ", ".join(value(i) for i in v.items) + ")"
    if isinstance(v, ast.Call):
        args = [value(a) for a in v.args] + [f"{k.name} = {value(k.value)}" for k in v.kwargs]
        return f"{v.name}(" + ", ".join(args) + ")"
    raise TypeError(v)


def _head(s: ast.Section) -> str:
    parts = [".".join(s.path)]
    if s.atom is not None:
        parts.append(value(s.atom))
    for c in s.clauses:
        parts.append(f"{c.keyword} {value(c.value)}")
    return " ".join(parts)


def _end_line(item: ast.Item) -> int:
    if isinstance(item, ast.Section) and item.end_pos is not None:
        return item.end_pos.line
    return item.pos.end_line or item.pos.line


def _one_line(item: ast.Item) -> bool:
    return item.pos.line == _end_line(item)


class _Printer:
    def __init__(self, f: ast.SpecFile):
        self.comments = list(f.comments)
        self.out: list[str] = []

    def take(self, before_line: int) -> list[ast.Comment]:
        got = [c for c in self.comments if c.line < before_line]
        self.comments = [c for c in self.comments if c.line >= before_line]
        return got

    def trailing(self, line: int) -> str:
        got = [c for c in self.comments if c.line == line]
        self.comments = [c for c in self.comments if c.line != line]
        return ("  " + " ".join(c.text for c in got)) if got else ""

    def inline(self, item: ast.Item) -> str:
        if isinstance(item, ast.Assign):
            scope = f" for {value(item.applies_to)}" if item.applies_to is not None else ""
            return f"{item.key} = {value(item.value)}{scope}"
        if item.body is None:
            return _head(item)
        inner = "  ".join(self.inline(i) for i in item.body)
        return f"{_head(item)} {{ {inner} }}" if inner else f"{_head(item)} {{ }}"

    def items(self, items: tuple[ast.Item, ...], depth: int) -> None:
        groups: list[list[ast.Item]] = []
        for it in items:
            if groups and _one_line(it) and _one_line(groups[-1][-1]) and it.pos.line == _end_line(groups[-1][-1]):
                groups[-1].append(it)
            else:
                groups.append([it])
        prev_end = None
        for group in groups:
            first = group[0]
            lead = self.take(first.pos.line)
            start = lead[0].line if lead else first.pos.line
            if prev_end is not None and start - prev_end > 1 and self.out and self.out[-1].strip() != "":
                self.out.append("")
            prev_line = None
            for c in lead:  # blank lines between comment paragraphs, and before the item, are kept
                if prev_line is not None and c.line - prev_line > 1:
                    self.out.append("")
                self.out.append(IND * depth + c.text)
                prev_line = c.line
            if lead and first.pos.line - lead[-1].line > 1:
                self.out.append("")
            if len(group) == 1 and not _one_line(first) and isinstance(first, ast.Section) and first.body is not None:
                head_line = first.pos.line
                self.out.append(IND * depth + _head(first) + " {" + self.trailing(head_line))
                self.items(first.body, depth + 1)
                end = first.end_pos.line if first.end_pos else head_line
                for c in self.take(end):
                    self.out.append(IND * (depth + 1) + c.text)
                self.out.append(IND * depth + "}" + self.trailing(end))
            else:
                line = "  ".join(self.inline(i) for i in group)
                self.out.append(IND * depth + line + self.trailing(_end_line(group[-1])))
            prev_end = _end_line(group[-1])


def format_spec(f: ast.SpecFile) -> str:
    p = _Printer(f)
    p.items(f.items, 0)
    rest = p.take(10**9)
    if rest:
        if p.out:
            p.out.append("")
        p.out.extend(c.text for c in rest)
    return "\n".join(p.out).rstrip("\n") + "\n"
