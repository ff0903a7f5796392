"""Final answers in model text: the last `\\boxed{...}`, else the last final-answer line.

`extract_answer` returns the answer text or None (no answer in the expected format). `as_number`
reads the plain numeric forms (integers, decimals, `a/b`, `\\frac{a}{b}`, thousands separators)
exactly, so that the common case is compared without sympy; anything else goes to `mathcheck`.
"""

from __future__ import annotations

import re
from fractions import Fraction

THINK = re.compile(r"<think>.*?</think>", re.DOTALL)
# NOTE: the greedy `^.*` takes the last "answer" of a line ("... the answer: 3 + 4 = 7. Answer: 7").
FINAL_LINE = re.compile(
    r"^.*\banswer\b(?:\s+is\b\s*:?|\s*[:=])\s*(.+)$|^\s*#{4}\s*(.+)$", re.IGNORECASE | re.MULTILINE
)
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)")
THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?")
FRAC = re.compile(r"\\d?frac\{\s*([-+]?\d+)\s*\}\{\s*([-+]?\d+)\s*\}")


def strip_thinking(text: str) -> str:
    """The text after any `<think>...</think>` section (and after an unclosed `</think>`)."""
    text = THINK.sub("", text)
    return text.split("</think>")[-1]


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}` (or `\\fbox{...}`), braces matched; None if there is none."""
    start = max(text.rfind("\\boxed{"), text.rfind("\\fbox{"))
    if start < 0:
        return None
    i = text.index("{", start) + 1
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None  # unbalanced: not a well-formed answer


def _clean(answer: str) -> str:
    answer = answer.strip().strip("$").strip()
    answer = re.sub(r"^\\\(|\\\)$", "", answer).strip()
    return answer.rstrip(".").strip()


def extract_answer(completion: str) -> str | None:
    """The final answer of a completion, or None when it states none."""
    text = strip_thinking(completion)
    boxed = last_boxed(text)
    if boxed is not None:
        return _clean(boxed) or None
    found = None
    for m in FINAL_LINE.finditer(text):
        found = m.group(1) or m.group(2)
    if found is None:
        return None
    found = _clean(found)
    inner = last_boxed(found)
    return (_clean(inner) if inner is not None else found) or None


def as_number(text: str) -> Fraction | None:
    """An exact value for plain numeric text, else None."""
    s = _clean(text).replace(" ", "")
    if THOUSANDS.fullmatch(s):
        s = s.replace(",", "")
    m = FRAC.fullmatch(s)
    if m:
        num, den = int(m.group(1)), int(m.group(2))
        return Fraction(num, den) if den else None
    if "/" in s:
        num, _, den = s.partition("/")
        if NUMBER.fullmatch(num) and NUMBER.fullmatch(den) and Fraction(den) != 0:
            return Fraction(num) / Fraction(den)
        return None
    if NUMBER.fullmatch(s):
        return Fraction(s)
    return None
