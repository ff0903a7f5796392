"""One default per setting: what a spec leaves out, `olmospec data` leaves out and the runner's own
defaults all mean the same value, and docs/LANGUAGE.md states it where it gives one. A new default
that disagrees in one place fails here."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from olmospec.ir import spec as S
from runners import data as data_cli
from runners.curation.fim import apply_fim
from runners.curation.lsh import run_minhash
from runners.curation.minhash import MinHashConfig
from runners.curation.substring import run_substring

ROOT = Path(__file__).resolve().parents[2]


def _defaults(fn) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}


def _cli_defaults(step: str) -> dict:
    sub = next(a for a in data_cli._parser()._actions if a.dest == "step").choices[step]
    return {a.dest: a.default for a in sub._actions if a.default is not None}


def _ir_default(cls, name):
    return cls.model_fields[name].default


@pytest.mark.parametrize(("ir_cls", "field", "runner_fns", "cli_step"), [
    (S.MinhashStep, "max_cluster", [run_minhash], "minhash"),
    (S.MinhashStep, "ngram", [run_minhash], "minhash"),
    (S.MinhashStep, "threshold", [run_minhash], "minhash"),
    (S.SubstringStep, "min_bytes", [run_substring], "substring"),
    (S.DecontaminateStep, "ngram", [], "decontaminate"),
    (S.DecontaminateStep, "min_overlap", [], "decontaminate"),
    (S.FimStep, "rate", [apply_fim], "fim"),
    (S.FimStep, "seed", [apply_fim], "fim"),
])
def test_language_runner_and_cli_defaults_agree(ir_cls, field, runner_fns, cli_step):
    want = _ir_default(ir_cls, field)
    for fn in runner_fns:
        assert _defaults(fn)[field] == want, (fn.__name__, field)
    assert _cli_defaults(cli_step)[field] == want, (cli_step, field)


def test_minhash_config_default_is_the_language_default():
    assert MinHashConfig().max_cluster == _ir_default(S.MinhashStep, "max_cluster")
    assert MinHashConfig().threshold == _ir_default(S.MinhashStep, "threshold")
    assert MinHashConfig().ngram == _ir_default(S.MinhashStep, "ngram")


def test_documented_defaults_match():
    doc = (ROOT / "docs/LANGUAGE.md").read_text()
    documented = re.search(r"max_cluster = (\d+)", doc)
    assert documented, "docs/LANGUAGE.md states the MinHash max_cluster default"
    assert int(documented.group(1)) == _ir_default(S.MinhashStep, "max_cluster")
    lsh_doc = (ROOT / "runners/curation/lsh.py").read_text()
    assert f"(default {_ir_default(S.MinhashStep, 'max_cluster')}," in lsh_doc
