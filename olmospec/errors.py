"""Errors that point at the spec: `file:line:col: error: message`, the source line and a caret.

Every problem a user can cause is a `SpecError`; the CLI prints all of them and exits 1, never a
traceback. Checks collect errors in a `Diagnostics` list instead of stopping at the first one, so
that one run reports every problem of a file. An error may carry notes (a second position, e.g. the
base line an ablation broke); a warning is a `SpecError` with `severity = "warning"`, printed but
never failing a command unless `olmospec check --strict`.
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
    """One problem in a spec, at a position; `notes` are further positions worth showing."""

    def __init__(self, pos: Pos, message: str, hint: str | None = None,
                 notes: tuple[tuple[Pos, str], ...] = (), severity: str = "error"):
        super().__init__(message)
        self.pos = pos
        self.message = message
        self.hint = hint
        self.notes = tuple(notes)
        self.severity = severity

    def with_message(self, message: str) -> SpecError:
        return SpecError(self.pos, message, self.hint, self.notes, self.severity)

    def render(self, sources: dict[str, str] | None = None) -> str:
        where = str(self.pos) if self.pos.line else self.pos.file
        out = f"{where}: {self.severity}: {self.message}" + _excerpt(self.pos, sources)
        if self.hint:
            out += f"\n      = hint: {self.hint}"
        for pos, note in self.notes:
            out += f"\n      = note: {note} ({pos if pos.line else pos.file})" + _excerpt(pos, sources)
        return out


def _excerpt(pos: Pos, sources: dict[str, str] | None) -> str:
    """The source line at `pos` with a caret under the span, or nothing when it cannot be read."""
    if not pos.line:
        return ""
    text = (sources or {}).get(pos.file)
    if text is None:
        try:
            text = Path(pos.file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return ""
    lines = text.splitlines()
    if not 0 < pos.line <= len(lines):
        return ""
    src = lines[pos.line - 1].replace("\t", " ")
    width = pos.end_col - pos.col if pos.end_line == pos.line and pos.end_col > pos.col else 1
    gutter = f"{pos.line:>5} | "
    return f"\n{gutter}{src}\n{' ' * (len(gutter) - 2)}| {' ' * (pos.col - 1)}{'^' * width}"


def _sorted(errors: list[SpecError]) -> list[SpecError]:
    unique: dict[tuple, SpecError] = {}
    for e in errors:
        unique.setdefault((e.pos.file, e.pos.line, e.pos.col, e.message), e)
    return sorted(unique.values(), key=lambda e: (e.pos.file, e.pos.line, e.pos.col, e.message))


class SpecErrors(Exception):
    """Several problems at once, sorted by position (and the warnings found on the way)."""

    def __init__(self, errors: list[SpecError], warnings: list[SpecError] | None = None):
        self.errors = _sorted(errors)
        self.warnings = _sorted(warnings or [])
        super().__init__("\n".join(f"{e.pos}: {e.message}" for e in self.errors))


@dataclass
class Diagnostics:
    """Collects errors (and warnings) so that a check reports all of them, then raises once."""

    errors: list[SpecError] = field(default_factory=list)
    warnings: list[SpecError] = field(default_factory=list)

    def error(self, pos: Pos, message: str, hint: str | None = None, notes: tuple = ()) -> None:
        self.errors.append(SpecError(pos, message, hint, notes))

    def warn(self, pos: Pos, message: str, hint: str | None = None) -> None:
        self.warnings.append(SpecError(pos, message, hint, severity="warning"))

    def add(self, err: SpecError) -> None:
        (self.warnings if err.severity == "warning" else self.errors).append(err)

    def raise_if_any(self) -> None:
        if self.errors:
            raise SpecErrors(self.errors, self.warnings)


def did_you_mean(word: str, choices: list[str] | set[str]) -> str:
    """`; did you mean 'x'?` for the closest choice, or the empty string. The word itself is never
    suggested (a misspelled name that is defined somewhere is not a suggestion for itself)."""
    close = difflib.get_close_matches(word, sorted(set(choices) - {word}), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def report(e: SpecErrors | SpecError, sources: dict[str, str] | None = None) -> int:
    """Print every error (position, source line, caret, notes) and a count on stderr; returns 1."""
    import sys

    errors = e.errors if isinstance(e, SpecErrors) else [e]
    warnings = e.warnings if isinstance(e, SpecErrors) else []
    for err in [*warnings, *errors]:
        print(err.render(sources), file=sys.stderr)
    print(f"{len(errors)} error{'s' if len(errors) != 1 else ''}", file=sys.stderr)
    return 1


def print_warnings(warnings: list[SpecError], sources: dict[str, str] | None = None) -> None:
    import sys

    for w in _sorted(warnings):
        print(w.render(sources), file=sys.stderr)
