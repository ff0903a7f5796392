"""Arithmetic word problems with exact answers, and the held-out evaluation split.

The tiny flow's learnable task (see shared/reference/tiny_flow_measurements.md): + and -, mostly
2-digit operands, 3-digit with probability 0.25, several templates. A problem's identity is
(operation, a, b); the evaluation identities are drawn first, from their own seed, and every
training generator rejects them, so no held-out problem is trained on in any wording. Subtraction
always has a >= b, so no answer is negative. Every template renders to at least 10 words.

`template_regexes()` turns the templates back into regular expressions, so a check can recover
identities from the text of any file independently of the metadata the generator wrote.
"""

from __future__ import annotations

import random
import re
import string
from dataclasses import dataclass

NAMES = ["Tom", "Anna", "Sam", "Maria", "Ben", "Lucy", "Omar", "Mei", "Ravi", "Sofia", "Jack",
         "Nora", "Leo", "Ivy", "Hugo", "Zara"]
ITEMS = ["apples", "pencils", "stickers", "books", "marbles", "cards", "shells", "stamps",
         "cookies", "coins", "balloons", "buttons", "beads", "tickets", "oranges", "blocks"]
PLACES = ["library", "shop", "school", "farm", "museum", "bakery", "garden", "warehouse"]

# (template id, operation, text). Slots: {a} {b} {name} {name2} {item} {place}.
TEMPLATES = [
    ("add_buy", "+", "{name} has {a} {item} and buys {b} more. How many {item} does {name} have now?"),
    ("add_receive", "+", ("A {place} had {a} {item} in the morning and received {b} more in the "
                          "afternoon. How many {item} does the {place} have in total?")),
    ("add_value", "+", "What is the value of {a} + {b}? Write the answer as a single number."),
    ("add_walk", "+", ("{name} walked {a} meters before lunch and {b} meters after lunch. How many "
                       "meters did {name} walk altogether?")),
    ("add_days", "+", ("A farmer picked {a} {item} on Monday and {b} {item} on Tuesday. How many "
                       "{item} did the farmer pick on both days?")),
    ("sub_give", "-", ("{name} has {a} {item} and gives {b} of them to {name2}. How many {item} "
                       "does {name} have left?")),
    ("sub_taken", "-", ("There are {a} {item} in the {place}. Then {b} of them are taken away. "
                        "How many {item} are still in the {place}?")),
    ("sub_value", "-", "What is the value of {a} - {b}? Write the answer as a single number."),
    ("sub_train", "-", ("A train carries {a} passengers. At the next station {b} passengers get "
                        "off. How many passengers remain on the train?")),
    ("sub_spend", "-", ("{name} had {a} coins and spent {b} coins at the market. How many coins "
                        "does {name} have now?")),
]
TEMPLATE_BY_ID = {t[0]: t for t in TEMPLATES}
OPS = {"+": "add", "-": "sub"}
P_THREE_DIGIT = 0.25


@dataclass(frozen=True)
class Problem:
    op: str          # "+" or "-"
    a: int
    b: int
    template: str
    question: str

    @property
    def answer(self) -> int:
        return self.a + self.b if self.op == "+" else self.a - self.b

    @property
    def identity(self) -> str:
        return identity(self.op, self.a, self.b)

    @property
    def difficulty(self) -> str:
        return "3-digit" if max(self.a, self.b) >= 100 else "2-digit"

    def meta(self) -> dict:
        return {"op": self.op, "a": self.a, "b": self.b, "difficulty": self.difficulty,
                "template": self.template}


def identity(op: str, a: int, b: int) -> str:
    return f"{OPS[op]}:{a}:{b}"


def draw_operands(rng: random.Random, op: str) -> tuple[int, int]:
    lo, hi = (100, 999) if rng.random() < P_THREE_DIGIT else (10, 99)
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    if op == "-" and a < b:
        a, b = b, a
    return a, b


def render(rng: random.Random, op: str, a: int, b: int, template: str | None = None) -> Problem:
    choices = [t for t in TEMPLATES if t[1] == op]
    tid, _, text = TEMPLATE_BY_ID[template] if template else rng.choice(choices)
    name, name2 = rng.sample(NAMES, 2)
    q = text.format(a=a, b=b, name=name, name2=name2, item=rng.choice(ITEMS), place=rng.choice(PLACES))
    assert len(q.split()) >= 10, q
    return Problem(op, a, b, tid, q)


def draw(rng: random.Random, excluded: set[str]) -> Problem:
    """One random problem whose identity is not in `excluded` (the held-out identities)."""
    while True:
        op = rng.choice("+-")
        a, b = draw_operands(rng, op)
        if identity(op, a, b) not in excluded:
            return render(rng, op, a, b)


def held_out_identities(seed: int, n: int) -> list[tuple[str, int, int]]:
    """n distinct identities for evaluation, with the same difficulty mix as training."""
    rng = random.Random(seed)
    seen: dict[str, tuple[str, int, int]] = {}
    while len(seen) < n:
        op = rng.choice("+-")
        a, b = draw_operands(rng, op)
        seen.setdefault(identity(op, a, b), (op, a, b))
    return list(seen.values())


def worked_solution(p: Problem, rng: random.Random) -> str:
    """A short worked solution that ends with 'Answer: N' (the format the math verifier reads)."""
    if p.op == "+":
        lead = rng.choice(["We add the two amounts", "Add the numbers", "Put the two amounts together"])
    else:
        lead = rng.choice(["We subtract the second amount from the first", "Take away the smaller amount",
                           "Subtract to find what is left"])
    return f"{lead}: {p.a} {p.op} {p.b} = {p.answer}. Answer: {p.answer}"


def template_regexes() -> list[tuple[str, str, re.Pattern, str]]:
    """(template id, op, regex with groups a and b, its longest literal) for recovering
    identities from any text; the literal is a cheap pre-check before the regex runs."""
    out = []
    for tid, op, text in TEMPLATES:
        pattern, seen, literals = "", set(), []
        for literal, field, _, _ in string.Formatter().parse(text):
            pattern += re.escape(literal)
            literals.append(literal)
            if field in ("a", "b"):
                pattern += rf"(?P<{field}>\d+)"
            elif field in seen:
                pattern += rf"(?P={field})"
            elif field:
                seen.add(field)
                pattern += rf"(?P<{field}>[A-Za-z]+)"
        out.append((tid, op, re.compile(pattern), max(literals, key=len)))
    return out


_WORKED = re.compile(r"(\d+) ([+-]) (\d+) = \d+|What is (?:the result of )?(\d+) ([+-]) (\d+)\?")


def identities_in(text: str, regexes=None) -> set[str]:
    """Identities of every templated problem, every worked 'a op b = c' and every
    'What is a op b?' found in text."""
    found = set()
    for _, op, rx, literal in regexes or template_regexes():
        if literal in text:
            for m in rx.finditer(text):
                found.add(identity(op, int(m.group("a")), int(m.group("b"))))
    for m in _WORKED.finditer(text):
        if m.group(1) is None:
            found.add(identity(m.group(5), int(m.group(4)), int(m.group(6))))
        else:
            found.add(identity(m.group(2), int(m.group(1)), int(m.group(3))))
    return found
