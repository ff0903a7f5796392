"""`olmospec fmt`: idempotent, keeps every comment, and never changes what a spec means."""

from pathlib import Path

import pytest

from olmospec.fmt import format_spec
from olmospec.parser import parse, parse_file

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.ospec"))


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_fmt_idempotent_and_keeps_comments(path):
    f = parse_file(path)
    once = format_spec(f)
    twice = format_spec(parse(once, str(path)))
    assert once == twice
    assert [c.text for c in parse(once, "x").comments] == [c.text for c in f.comments]


@pytest.mark.parametrize("path", SPECS, ids=[p.name for p in SPECS])
def test_committed_specs_are_formatted(path):
    assert format_spec(parse_file(path)) == path.read_text()


def test_fmt_normalizes_layout():
    messy = 'source   web{path="a.jsonl"   tokens=5M}   # why\n\n\n\nmix m {\nweb 100%\n   # last\n}\n'
    want = 'source web { path = "a.jsonl"  tokens = 5M }  # why\n\nmix m {\n  web 100%\n  # last\n}\n'
    assert format_spec(parse(messy, "x")) == want


def test_fmt_keeps_comment_paragraphs():
    text = ('# header line 1\n# header line 2\n\n# Section A\nsource a { path = "x" }  # trailing\n\n'
            '# Section B\n\n# about b\nsource b { path = "y" }\n')
    assert format_spec(parse(text, "x")) == text


def test_fmt_keeps_seeds_for():
    text = 'seeds=[1,2,3]  for [base,"s[sft.lr=1e-3]"]\nseeds_from = rlvr\n'
    want = 'seeds = [1, 2, 3] for [base, "s[sft.lr=1e-3]"]\nseeds_from = rlvr\n'
    assert format_spec(parse(text, "x")) == want
    assert format_spec(parse(want, "x")) == want
