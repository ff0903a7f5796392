"""Instruction-following (IFEval-style) prompts, the constraint checker, and demonstrations.

Constraint types are exactly those the eval and the RL verifier score:
lowercase, uppercase, word_count{min,max}, include_keyword{word}, exclude_keyword{word},
end_with{text}, json. `check` is the reference reading of each type; every SFT demonstration is
built to pass it, and passes a stricter reading too (an excluded word is absent even as a
substring), so a slightly different scorer still accepts it. Only compatible combinations are
drawn (never uppercase with a keyword, never json with a case rule).
"""

from __future__ import annotations

import json
import random
import re

INCLUDE_WORDS = ["useful", "reliable", "simple", "practical", "popular", "stable", "flexible", "helpful"]
EXCLUDE_WORDS = ["package", "library", "software", "program", "data", "system", "file", "tool"]
ENDINGS = ["That is all.", "Thank you for reading.", "I hope this helps.", "Let me know if you have questions."]
COMBOS = [("lowercase",), ("uppercase",), ("word_count",), ("include_keyword",), ("exclude_keyword",),
          ("end_with",), ("json",), ("lowercase", "word_count"), ("lowercase", "include_keyword"),
          ("word_count", "include_keyword"), ("word_count", "exclude_keyword"),
          ("exclude_keyword", "end_with"), ("uppercase", "word_count"), ("lowercase", "end_with")]
TASKS = ["Describe the Debian package {name}.", "Explain what the {name} package is used for.",
         "Write a short summary of the package {name}.", "Tell me briefly what {name} does."]
TOPIC_TASKS = ["Write a short paragraph about {topic}.", "Explain {topic} to a child.",
               "Give a brief description of {topic}."]
TOPICS_TRAIN = ["rain", "the moon", "bicycles", "a public library", "bread baking", "the ocean",
                "winter mornings", "honey bees", "trains", "a vegetable garden", "maps", "clocks",
                "volcanoes", "kites", "the post office", "chess", "rivers", "owls"]
TOPICS_EVAL = ["deserts", "lighthouses", "the alphabet", "music lessons", "bridges", "snow",
               "a city park", "penguins", "soap", "the night sky", "camping", "paper"]


def check(response: str, c: dict) -> bool:
    """Does response satisfy one constraint (the reference reading shared by eval and RL)?"""
    t = c["type"]
    if t == "lowercase":
        return response == response.lower() and any(ch.isalpha() for ch in response)
    if t == "uppercase":
        return response == response.upper() and any(ch.isalpha() for ch in response)
    if t == "word_count":
        return c["min"] <= len(response.split()) <= c["max"]
    if t == "include_keyword":
        return re.search(rf"\b{re.escape(c['word'])}\b", response, re.IGNORECASE) is not None
    if t == "exclude_keyword":
        return re.search(rf"\b{re.escape(c['word'])}\b", response, re.IGNORECASE) is None
    if t == "end_with":
        return response.rstrip().endswith(c["text"])
    if t == "json":
        try:
            json.loads(response)
        except ValueError:
            return False
        return True
    raise ValueError(f"unknown constraint type {t!r}")


def check_all(response: str, constraints: list[dict]) -> bool:
    return all(check(response, c) for c in constraints)


def _phrase(c: dict, subject_key: str) -> str:
    t = c["type"]
    return {
        "lowercase": "Your entire response must be in lowercase letters, with no capital letters at all.",
        "uppercase": "Your entire response must be in capital letters only.",
        "word_count": f"Answer with at least {c.get('min')} and at most {c.get('max')} words.",
        "include_keyword": f'Include the word "{c.get("word")}" in your response.',
        "exclude_keyword": f'Do not use the word "{c.get("word")}" anywhere in your response.',
        "end_with": f'End your response with the exact phrase "{c.get("text")}" and nothing after it.',
        "json": f'Give your entire response as a JSON object with the keys "{subject_key}" and "summary".',
    }[t]


def _params(rng: random.Random, combo: tuple[str, ...]) -> list[dict]:
    out = []
    for t in combo:
        c: dict = {"type": t}
        if t == "word_count":
            lo = rng.choice([5, 10, 15, 20, 25])
            c.update(min=lo, max=lo + rng.choice([15, 20, 30, 40]))
        elif t == "include_keyword":
            c["word"] = rng.choice(INCLUDE_WORDS)
        elif t == "exclude_keyword":
            c["word"] = rng.choice(EXCLUDE_WORDS)
        elif t == "end_with":
            text = rng.choice(ENDINGS)
            c["text"] = text.lower() if "lowercase" in combo else text
        out.append(c)
    return out


def prompt(rng: random.Random, subject: dict, constraints: list[dict]) -> str:
    """subject: {"name": package} or {"topic": text}."""
    if "name" in subject:
        task, key = rng.choice(TASKS).format(name=subject["name"]), "name"
    else:
        task, key = rng.choice(TOPIC_TASKS).format(topic=subject["topic"]), "topic"
    return " ".join([task] + [_phrase(c, key) for c in constraints])


def draw_prompt(rng: random.Random, subject: dict) -> tuple[str, list[dict]]:
    constraints = _params(rng, rng.choice(COMBOS))
    return prompt(rng, subject, constraints), constraints


def _sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    return [s for s in re.split(r"(?<=[.!?])\s+", flat) if s.endswith(".") and len(s.split()) >= 4]


def demonstration(rng: random.Random, name: str, synopsis: str, description: str):
    """(prompt, constraints, response) about a package, with a response that passes `check`, or
    None when this package cannot satisfy the drawn constraints (the caller draws again)."""
    combo = rng.choice(COMBOS)
    constraints = _params(rng, combo)
    by_type = {c["type"]: c for c in constraints}
    synopsis = synopsis.rstrip(".")
    if synopsis[1:2].islower():  # "Commandline tool" -> "commandline tool", but keep "ALSA ..."
        synopsis = synopsis[:1].lower() + synopsis[1:]
    sents = [f"The {name} package provides {synopsis}."] + _sentences(description)
    if "exclude_keyword" in by_type:
        w = by_type["exclude_keyword"]["word"]
        sents = [s for s in sents if w not in s.lower()]
    if not sents:
        return None
    body, n = [], 0
    for s in sents[:4]:
        if n >= 12 and n + len(s.split()) > 55:
            break
        body.append(s)
        n += len(s.split())
    if "include_keyword" in by_type:
        body.append(f"Many users find it {by_type['include_keyword']['word']}.")
    if "end_with" in by_type:
        body.append(by_type["end_with"]["text"])
    text = " ".join(body)
    if "lowercase" in by_type:
        text = text.lower()
    if "uppercase" in by_type:
        text = text.upper()
    if "json" in by_type:
        text = json.dumps({"name": name, "summary": text})
    if "word_count" in by_type:
        n = len(text.split())
        lo = max(1, n - rng.randint(2, 12))
        by_type["word_count"].update(min=lo, max=n + rng.randint(2, 20))
    for c in constraints:
        if c["type"] == "exclude_keyword" and c["word"] in text.lower():
            return None
    if not check_all(text, constraints):
        return None
    return prompt(rng, {"name": name}, constraints), constraints, text
