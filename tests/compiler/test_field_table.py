"""docs/FIELDS.md is the guard against settings the language accepts and nothing reads: it maps every
field of the resolved spec (`olmospec schema`, the IR) to the code that consumes it and the test
that proves it changes what runs. A field added to the IR without a row fails here, and so does a
row whose code or test does not exist, or whose code never mentions the field.

A proof is one or more tests: `tests/PATH.py::test_name` (the case in parentheses where a test has
many), `reach` (the field's case in test_field_reach.py), `errors/NAME.ospec` (a case of
test_errors.py); or `fixed` for a field with one value (its schema says `const`); or, for the fields
in UNTESTED only, `untested: why` (after the tests that show as much as can be shown here)."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

from olmospec.ir.spec import Spec
from tests.compiler.test_field_reach import CASES

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "FIELDS.md"
ROW = re.compile(r"^\| `(?P<field>[A-Za-z]+\.[a-z_]+)` \| (?P<reads>.*?) \| (?P<proof>.*?) \|$")
# Consumed, but no test here can show the behaviour (a GPU, a setting that is not a setting): keep short.
UNTESTED = {"Spec.file", "EvalRuntime.threads", "EvalRuntime.gpus", "DpoSettings.generator"}


def schema_fields() -> dict[str, dict]:
    """`Block.field` -> its JSON schema, for every model reachable from the resolved spec."""
    schema = Spec.model_json_schema()
    out = {f"Spec.{k}": v for k, v in schema["properties"].items()}
    for name, d in schema["$defs"].items():
        out.update({f"{name}.{k}": v for k, v in d.get("properties", {}).items()})
    return out


@cache
def rows() -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        m = ROW.match(line)
        if m:
            assert m["field"] not in out, f"docs/FIELDS.md: two rows for {m['field']}"
            out[m["field"]] = (m["reads"], m["proof"])
    return out


def _single_valued(prop: dict) -> bool:
    return "const" in prop or len(prop.get("enum", [])) == 1


@cache
def _tests_in(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test_")
    }


@cache
def _text(path: str) -> str:
    return (ROOT / path).read_text(encoding="utf-8")


def test_every_field_of_the_schema_has_a_row():
    missing = sorted(set(schema_fields()) - set(rows()))
    assert not missing, (
        "docs/FIELDS.md has no row for: "
        + ", ".join(missing)
        + " (say what reads each field and which test proves it changes behaviour)"
    )


def test_no_row_names_a_field_the_schema_does_not_have():
    extra = sorted(set(rows()) - set(schema_fields()))
    assert not extra, "docs/FIELDS.md names fields the IR does not have: " + ", ".join(extra)


def test_the_untested_rows_are_the_allowed_ones_and_every_reach_case_is_cited():
    untested = {f for f, (_, proof) in rows().items() if "untested: " in proof}
    assert untested == UNTESTED, (
        f"untested rows {sorted(untested)} differ from the allowed {sorted(UNTESTED)}"
    )
    uncited = sorted(f for f in CASES if not re.search(r"(^|, )reach\b", rows().get(f, ("", ""))[1]))
    assert not uncited, f"rows that do not cite their case in test_field_reach.py: {uncited}"


@pytest.mark.parametrize("field", sorted(schema_fields()))
def test_each_row_names_real_code_and_a_real_test(field):
    if field not in rows():
        pytest.skip("no row (reported by test_every_field_of_the_schema_has_a_row)")
    reads, proof = rows()[field]
    files = re.findall(r"`([\w./-]+\.(?:py|lark|md))`", reads)
    assert files, f"{field}: 'read by' names no file"
    for f in files:
        assert (ROOT / f).exists(), f"{field}: {f} does not exist"
    name = field.split(".", 1)[1]
    assert any(re.search(rf"\b{name}\b", _text(f)) for f in files), (
        f"{field}: none of {files} mentions '{name}'"
    )
    if proof == "fixed":
        assert _single_valued(schema_fields()[field]), f"{field}: 'fixed' is only for fields with one value"
        return
    tests = re.findall(r"`(tests/[\w./-]+\.py)::(\w+)`", proof)
    reach = re.search(r"(^|, )reach\b", proof) is not None
    cases = re.findall(r"\berrors/([\w-]+\.ospec)", proof)
    assert tests or reach or cases or proof.startswith("untested: "), (
        f"{field}: the proof names no test (`tests/...py::test_name`, reach, errors/NAME.ospec), and is not "
        "'fixed' or 'untested: why'"
    )
    for path, test in tests:
        assert (ROOT / path).exists(), f"{field}: {path} does not exist"
        assert test in _tests_in(path), f"{field}: {path} has no {test}"
    if reach:
        assert field in CASES, f"{field}: cites 'reach', but test_field_reach.py has no case for it"
    for case in cases:
        assert (ROOT / "tests/compiler/errors" / case).exists(), (
            f"{field}: tests/compiler/errors/{case} does not exist"
        )
