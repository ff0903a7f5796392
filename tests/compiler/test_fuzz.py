"""Fuzzing the front end: mutated and random specs never raise anything but a SpecError (which the
CLI prints as file:line:col), i.e. no traceback, whatever the input."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from olmospec.api import load_text
from olmospec.errors import SpecError, SpecErrors
from tests.compiler.flow import FLOW

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [FLOW, (ROOT / "specs/tiny.ospec").read_text()]
TOKENS = ["{", "}", "=", "[", "]", "(", ")", ",", ".", "after", "from", "for", "seeds", "stage", "mix", "model", "source", "drop",
          "ablation", "sweep", "5.93T", "76.1%", "7x", "2000 steps", "4M tokens", "-1", "0", "1e-3", '"x"', "full",
          "window(64)", "repeat(", "web", "pretrain", "off", "#c\n", "\n", "tokens", "lr", "seq", "delta(", "@", "\\"]


def check(text: str) -> None:
    try:
        load_text(text, "fuzz.ospec")
    except (SpecError, SpecErrors) as e:
        errs = e.errors if isinstance(e, SpecErrors) else [e]
        for err in errs:
            assert err.pos.file == "fuzz.ospec"
            err.render({"fuzz.ospec": text})  # rendering never fails either


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup"]))
        tok = draw(st.sampled_from(TOKENS))
        j = min(len(text), i + draw(st.integers(0, 12)))
        if op == "insert":
            text = text[:i] + " " + tok + " " + text[i:]
        elif op == "delete":
            text = text[:i] + text[j:]
        elif op == "replace":
            text = text[:i] + tok + text[j:]
        else:
            text = text[:i] + text[i:j] * 2 + text[j:]
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(mutated())
def test_mutated_specs_never_traceback(text):
    check(text)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(" ".join) | st.text(max_size=200))
def test_random_specs_never_traceback(text):
    check(text)
