"""The grammar is LALR(1) with no conflicts and no terminal collisions (lark's strict mode), and the
non-strict cached parser used at run time gives the same trees."""

from pathlib import Path

from olmospec import parser

ROOT = Path(__file__).resolve().parents[2]


def test_grammar_is_strict_lalr():
    strict = parser._lark(strict=True)
    for spec in sorted((ROOT / "specs").rglob("*.ospec")):
        text = spec.read_text()
        assert strict.parse(text) == parser._lark().parse(text)


def test_numbers_and_units():
    f = parser.parse("a = 5.93T  b = 76.1%  c = 7x  d = 2000 steps  e = 1e-3  steps = 10  f = 4M tokens", "x")
    vals = {i.key: i.value for i in f.items}
    assert vals["a"].value == 5_930_000_000_000 and vals["a"].is_int
    assert (vals["b"].value, vals["b"].suffix) == (76.1, "%")
    assert (vals["c"].value, vals["c"].suffix) == (7, "x")
    assert (vals["d"].value, vals["d"].unit) == (2000, "steps")
    assert vals["e"].value == 1e-3 and vals["steps"].value == 10
    assert (vals["f"].value, vals["f"].unit) == (4_000_000, "tokens")
