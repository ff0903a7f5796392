"""Errors that point at the spec: `file:line:col: error: message`, the source line and a caret.

Every problem a user can cause is a `SpecError`; the CLI prints all of them and exits 1, never a
traceback. Checks collect errors in a `Diagnostics` list instead of stopping at the first one, so
that one run reports every problem of a file.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Pos:
    """A span in a spec file (1-based lines and columns, end exclusive)."""

    file: str
    line: int
    col: int
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOWHERE = Pos("<spec>", 0, 0)


class SpecError(Exception):
    """One problem in a spec, at a position."""

    def __init__(self, pos: Pos, message: str, hint: str | None = None):
        super().__init__(message)
        self.pos = pos
        self.message = message
        self.hint = hint

    def render(self, sources: dict[str, str] | None = None) -> str:
        out = f"{self.pos}: error: {self.message}" if self.pos.line else f"{self.pos.file}: error: {self.message}"
        text = (sources or {}).get(self.pos.file)
        if text is None and self.pos.line:
            try:
                text = Path(self.pos.file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None
        if text is not None and self.pos.line:
            lines = text.splitlines()
            if 0 < self.pos.line <= len(lines):
                src = lines[self.pos.line - 1].replace("\t", " ")
                width = 1
                if self.pos.end_line == self.pos.line and self.pos.end_col > self.pos.col:
                    width = self.pos.end_col - self.pos.col
                gutter = f"{self.pos.line:>5} | "
                out += f"\n{gutter}{src}\n{' ' * (len(gutter) - 2)}| {' ' * (self.pos.col - 1)}{'^' * width}"
        if self.hint:
            out += f"\n      = hint: {self.hint}"
        return out


class SpecErrors(Exception):
    """Several problems at once, sorted by position."""

    def __init__(self, errors: list[SpecError]):
        self.errors = sorted(errors, key=lambda e: (e.pos.file, e.pos.line, e.pos.col, e.message))
        super().__init__("\n".join(f"{e.pos}: {e.message}" for e in self.errors))


@dataclass
class Diagnostics:
    """Collects errors so that a check reports all of them, then raises once."""

    errors: list[SpecError] = field(default_factory=list)

    def error(self, pos: Pos, message: str, hint: str | None = None) -> None:
        self.errors.append(SpecError(pos, message, hint))

    def add(self, err: SpecError) -> None:
        self.errors.append(err)

    def raise_if_any(self) -> None:
        if self.errors:
            unique: dict[tuple, SpecError] = {}
            for e in self.errors:
                unique.setdefault((e.pos.file, e.pos.line, e.pos.col, e.message), e)
            raise SpecErrors(list(unique.values()))


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or the empty string."""
    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def report(e: SpecErrors | SpecError, sources: dict[str, str] | None = None) -> int:
    """Print every error (position, source line, caret) and a count on stderr; the exit status, 1."""
    import sys

    errors = e.errors if isinstance(e, SpecErrors) else [e]
    for err in errors:
        print(err.render(sources), file=sys.stderr)
    print(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", file=sys.stderr)
    return 1
