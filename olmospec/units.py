"""Typed readings of spec values: token counts, percentages, repetition factors, step counts...

Each converter takes a syntax-tree value and returns a Python value or raises a SpecError at the
value's position that says which unit or shape was expected. A number without its required unit is
an error: `tokens = 5930000000000` could be tokens or bytes, so the spec must say `5.93T`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from olmospec import ast
from olmospec.errors import SpecError

Converter = Callable[[ast.Value], Any]

_SCALE = ("K", "M", "B", "T")


def describe(v: ast.Value) -> str:
    if isinstance(v, ast.Number):
        return f"'{v.text}'"
    if isinstance(v, ast.String):
        return f'"{v.value}"'
    if isinstance(v, ast.Name):
        return f"'{v.name}'"
    if isinstance(v, ast.Dotted):
        return f"'{v.name}'"
    if isinstance(v, ast.ListV):
        return "a list"
    if isinstance(v, ast.TupleV):
        return "a tuple"
    if isinstance(v, ast.Call):
        return f"'{v.name}(...)'"
    return "this value"


def _number(v: ast.Value, what: str) -> ast.Number:
    if not isinstance(v, ast.Number):
        raise SpecError(v.pos, f"expected {what}, got {describe(v)}")
    return v


def _plain(v: ast.Number, what: str) -> None:
    if v.suffix or v.unit:
        raise SpecError(v.pos, f"expected {what} without a unit, got '{v.text}'")


def integer(v: ast.Value) -> int:
    n = _number(v, "an integer")
    if n.suffix in ("%", "x") or n.unit:
        raise SpecError(n.pos, f"expected an integer, got '{n.text}'")
    if not n.is_int:
        raise SpecError(n.pos, f"expected an integer, got '{n.text}'")
    return int(n.value)


def positive_int(v: ast.Value) -> int:
    i = integer(v)
    if i <= 0:
        raise SpecError(v.pos, f"expected a positive integer, got '{v.text}'")  # type: ignore[union-attr]
    return i


def context_length(v: ast.Value) -> int:
    """Sequence and context lengths: 8192, or 64K meaning 65,536 (binary K, as everyone writes
    context lengths)."""
    n = _number(v, "a sequence length such as 8192 or 64K")
    if n.unit or n.suffix in ("%", "x", "B", "T"):
        raise SpecError(n.pos, f"expected a sequence length such as 8192 or 64K, got '{n.text}'")
    base = n.value / {"": 1, "K": 1e3, "M": 1e6}[n.suffix] * {"": 1, "K": 1024, "M": 1024 * 1024}[n.suffix]
    if base != int(base) or base <= 0:
        raise SpecError(n.pos, f"expected a positive whole sequence length, got '{n.text}'")
    return int(base)


def real(v: ast.Value) -> float:
    n = _number(v, "a number")
    _plain(n, "a number")
    return float(n.value)


def nonneg_real(v: ast.Value) -> float:
    x = real(v)
    if x < 0:
        raise SpecError(v.pos, f"expected a number >= 0, got '{v.text}'")  # type: ignore[union-attr]
    return x


def unit_fraction(v: ast.Value) -> float:
    """A fraction in [0, 1], written as 0.8 or 80%."""
    n = _number(v, "a fraction such as 0.8 or 80%")
    if n.unit or n.suffix not in ("", "%"):
        raise SpecError(n.pos, f"expected a fraction such as 0.8 or 80%, got '{n.text}'")
    x = n.value / 100 if n.suffix == "%" else n.value
    if not 0 <= x <= 1:
        raise SpecError(n.pos, f"expected a fraction between 0 and 1 (or 0% and 100%), got '{n.text}'")
    return x


def percent(v: ast.Value) -> float:
    """A share that must be written with '%' (returned as a fraction)."""
    n = _number(v, "a percentage such as 40%")
    if n.suffix != "%" or n.unit:
        raise SpecError(n.pos, f"expected a percentage such as 40%, got '{n.text}'", "write the unit: '%'")
    if not 0 <= n.value <= 100:
        raise SpecError(n.pos, f"a percentage must be between 0% and 100%, got '{n.text}'")
    return n.value / 100


def repeat_factor(v: ast.Value) -> float:
    n = _number(v, "a repetition factor such as 4x")
    if n.suffix != "x" or n.unit:
        raise SpecError(n.pos, f"expected a repetition factor such as 4x, got '{n.text}'", "write the unit: 'x'")
    if n.value < 1:
        raise SpecError(n.pos, f"a repetition factor must be at least 1x, got '{n.text}'")
    return n.value


def tokens(v: ast.Value) -> int:
    """A token count: 5.93T, 100B, 4M, or '100 tokens'."""
    n = _number(v, "a token count such as 5.93T")
    if n.unit not in ("", "tokens") or n.suffix in ("%", "x") or (not n.suffix and n.unit != "tokens"):
        raise SpecError(
            n.pos,
            f"expected a token count such as 5.93T, 100B or '2048 tokens', got '{n.text}'",
            "token counts need a unit: a K/M/B/T suffix or the word 'tokens'",
        )
    if n.value <= 0:
        raise SpecError(n.pos, f"a token count must be positive, got '{n.text}'")
    return round(n.value)


def count(v: ast.Value) -> int:
    """A plain count that may use a magnitude suffix: 150K pairs, 9.67B docs."""
    n = _number(v, "a count such as 150K")
    if n.suffix in ("%", "x") or n.unit not in ("", "docs", "seqs"):
        raise SpecError(n.pos, f"expected a count such as 150K, got '{n.text}'")
    return round(n.value)


def steps(v: ast.Value) -> int:
    n = _number(v, "a step count")
    if n.unit not in ("", "steps") or n.suffix in ("%", "x"):
        raise SpecError(n.pos, f"expected a step count such as 1400 or '1400 steps', got '{n.text}'")
    if not n.is_int or n.value < 0:
        raise SpecError(n.pos, f"a step count must be a whole number >= 0, got '{n.text}'")
    return int(n.value)


def epochs(v: ast.Value) -> float:
    n = _number(v, "an epoch count")
    if n.unit not in ("", "epochs") or n.suffix:
        raise SpecError(n.pos, f"expected an epoch count such as 2, got '{n.text}'")
    if n.value <= 0:
        raise SpecError(n.pos, f"an epoch count must be positive, got '{n.text}'")
    return float(n.value)


def throughput(v: ast.Value) -> float:
    n = _number(v, "a throughput such as '7700 tok/s/gpu'")
    if n.unit != "tok/s/gpu":
        raise SpecError(n.pos, f"expected a throughput such as '7700 tok/s/gpu', got '{n.text}'",
                        "write the unit: 'tok/s/gpu'")
    if n.value <= 0:
        raise SpecError(n.pos, f"a throughput must be positive, got '{n.text}'")
    return float(n.value)


def price(v: ast.Value) -> float:
    n = _number(v, "a price such as '2 usd/gpu_hour'")
    if n.unit != "usd/gpu_hour":
        raise SpecError(n.pos, f"expected a price such as '2 usd/gpu_hour', got '{n.text}'",
                        "write the unit: 'usd/gpu_hour'")
    return float(n.value)


def boolean(v: ast.Value) -> bool:
    if isinstance(v, ast.Name) and v.name in ("true", "on", "yes"):
        return True
    if isinstance(v, ast.Name) and v.name in ("false", "off", "no"):
        return False
    raise SpecError(v.pos, f"expected true/false (or on/off), got {describe(v)}")


def string(v: ast.Value) -> str:
    if isinstance(v, ast.String):
        return v.value
    raise SpecError(v.pos, f"expected a string in double quotes, got {describe(v)}")


def word(*choices: str) -> Converter:
    """One of a fixed set of bare words."""

    def conv(v: ast.Value) -> str:
        if isinstance(v, ast.Name) and v.name in choices:
            return v.name
        from olmospec.errors import did_you_mean

        got = v.name if isinstance(v, ast.Name) else None
        hint = did_you_mean(got, set(choices)) if got else ""
        raise SpecError(v.pos, f"expected one of {', '.join(choices)}; got {describe(v)}{hint}")

    return conv


def name(v: ast.Value) -> str:
    if isinstance(v, ast.Name):
        return v.name
    raise SpecError(v.pos, f"expected a name, got {describe(v)}")


def list_of(conv: Converter) -> Converter:
    def convert(v: ast.Value) -> tuple:
        items = v.items if isinstance(v, ast.ListV) else (v,)
        return tuple(conv(i) for i in items)

    return convert


def pair(conv: Converter) -> Converter:
    def convert(v: ast.Value) -> tuple:
        if not isinstance(v, ast.TupleV) or len(v.items) != 2:
            raise SpecError(v.pos, f"expected a pair such as (0.9, 0.95), got {describe(v)}")
        return (conv(v.items[0]), conv(v.items[1]))

    return convert


def batch(v: ast.Value) -> tuple[str, int]:
    """A batch size: '4M tokens' or '512 seqs'."""
    n = _number(v, "a batch size such as '4M tokens' or '512 seqs'")
    if n.unit not in ("tokens", "seqs") or n.suffix in ("%", "x"):
        raise SpecError(n.pos, f"expected a batch size such as '4M tokens' or '512 seqs', got '{n.text}'",
                        "a batch needs a unit: 'tokens' or 'seqs'")
    if not n.value >= 1:
        raise SpecError(n.pos, f"a batch must be at least 1, got '{n.text}'")
    return (n.unit, round(n.value))


def warmup(v: ast.Value) -> tuple[str, float]:
    """A warmup: '2000 steps' or a fraction of the stage's steps such as 3%."""
    n = _number(v, "a warmup such as '2000 steps' or 3%")
    if n.unit == "steps" and n.is_int:
        return ("steps", float(n.value))
    if n.suffix == "%" and not n.unit:
        return ("fraction", n.value / 100)
    if n.value == 0 and not n.unit and not n.suffix:
        return ("steps", 0.0)
    raise SpecError(n.pos, f"expected a warmup such as '2000 steps' or 3%, got '{n.text}'",
                    "a warmup needs a unit: 'steps' or '%'")
