"""Builders for each source of the tiny corpus: records in, no files written here.

Each builder takes the real texts (see `machine`) and a `random.Random` seeded from the source's
name, so changing one source never reshuffles another. Document ids are readable for real text
(`web-pkg-adduser`) and neutral for everything planted (`web-extra-0042`), so an id never tells
a curation step what it should do with the document.
"""

from __future__ import annotations

import random

from . import arithmetic as A
from . import instructions as I
from . import machine as M
from . import planting as P
from .text import first_sentence, n_words

PAGE_WORDS = 1200        # web pages of python docs are split near this length
LONG_MIN, LONG_MAX = 2000, 20000
WEB_MAX_WORDS = 1500     # longer copyright files are not web pages (long/, pdfs/ and quality_pos/ use them)


def rng_for(seed: int, name: str) -> random.Random:
    # NOTE: str seeds are hashed with sha512 by `random`, independent of PYTHONHASHSEED.
    return random.Random(f"{seed}:{name}")


def package_text(p: M.Package) -> str:
    return f"{p.name}: {p.synopsis}\n\n{p.description}".strip()


def _chunks(blocks: list[str], limit: int) -> list[str]:
    """Join text blocks into pieces of at most about `limit` words, never splitting a block."""
    out, cur, n = [], [], 0
    for b in blocks:
        w = n_words(b)
        if cur and n + w > limit:
            out.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(b)
        n += w
    if cur:
        out.append("\n\n".join(cur))
    return out


def _truncate_words(text: str, limit: int) -> str:
    """Cut a text to at most `limit` words, at a paragraph break when one is in the second half."""
    if n_words(text) <= limit:
        return text
    kept, n = [], 0
    for para in text.split("\n\n"):
        w = n_words(para)
        if n + w > limit:
            if n < limit // 2:
                kept.append(" ".join(para.split()[:limit - n]))
            break
        kept.append(para)
        n += w
    return "\n\n".join(kept)


# ---------------------------------------------------------------- web (real part)

def quality_packages(pkgs) -> set[str]:
    """Packages whose descriptions are quality positives only (every fifth name, offset 2: not the
    instruction-eval split); the web never shows them, so no positive is a web page's text."""
    names = sorted({p.name for p in pkgs})
    return {n for i, n in enumerate(names) if i % 5 == 2}


def web_real(pkgs, lics, cps, docs) -> list[dict]:
    out = []
    held = quality_packages(pkgs)
    for p in pkgs:
        if p.name in held:
            continue
        text = package_text(p)
        if n_words(text) >= 15:
            out.append({"id": f"web-pkg-{p.name}-{p.arch}", "text": text, "topic": "packages",
                        "origin": f"/var/lib/dpkg/status:{p.name}"})
    for name, text in lics:
        out.append({"id": f"web-license-{name}", "text": text, "topic": "licenses",
                    "origin": f"/usr/share/common-licenses/{name}"})
    for name, text in cps:
        if 30 <= n_words(text) < WEB_MAX_WORDS:
            out.append({"id": f"web-copyright-{name}", "text": text, "topic": "licenses",
                        "origin": f"/usr/share/doc/{name}/copyright"})
    for mod, entries in docs.items():
        blocks = [f"Python module {mod}" + (f"\n\n{entries[0].doc}" if entries[0].qualname == mod else "")]
        blocks += [f"{e.qualname}{e.signature}\n{e.doc}" for e in entries if e.qualname != mod]
        for k, page in enumerate(_chunks(blocks, PAGE_WORDS)):
            if n_words(page) >= 30:
                out.append({"id": f"web-pydoc-{mod}-{k}", "text": page, "topic": "python-docs",
                            "origin": f"python3.11/{mod}.py docstrings"})
    return out


# ---------------------------------------------------------------- long documents

def long_docs(pkgs, lics, cps, seed: int) -> tuple[list[dict], list[dict]]:
    """(long, pdfs): documents of 2K-20K words. long: license texts, per-section package
    compendia, two thirds of the long copyright files; pdfs: the other third."""
    rng = rng_for(seed, "long")
    long, pdfs = [], []
    seen = set()
    for name, text in lics:
        if LONG_MIN <= n_words(text) and text not in seen:  # one copy of each (GPL is GPL-3)
            seen.add(text)
            long.append({"id": f"long-license-{name}", "text": _truncate_words(text, LONG_MAX),
                         "kind": "license"})
    sections: dict[str, list[str]] = {}
    for p in pkgs:
        sections.setdefault(p.section.split("/")[-1], []).append(package_text(p))
    for sec in sorted(sections):
        for k, part in enumerate(_chunks(sections[sec], 6000)):
            if n_words(part) >= LONG_MIN:
                long.append({"id": f"long-section-{sec}-{k}", "kind": "package-compendium",
                             "text": f"Debian packages in section {sec}\n\n{part}"})
    big = [(n, t) for n, t in cps if n_words(t) >= LONG_MIN]
    uniq = {}
    for n, t in big:
        uniq.setdefault(t, n)
    picked = sorted(uniq.items(), key=lambda kv: kv[1])
    rng.shuffle(picked)
    for i, (text, name) in enumerate(picked[:60]):
        rec = {"id": f"long-copyright-{name}", "text": _truncate_words(text, 8000), "kind": "copyright"}
        (pdfs if i % 3 == 0 else long).append(rec)
    return [r for r in long if _long_enough(r)], [r for r in pdfs if _long_enough(r)]


def _long_enough(rec: dict) -> bool:
    return LONG_MIN <= n_words(rec["text"]) <= LONG_MAX


def pdf_volumes(docs) -> list[dict]:
    """Docstring collections laid out like a reference manual extracted from PDF (olmOCR analog)."""
    blocks = []
    for mod, entries in docs.items():
        body = "\n\n".join(f"{e.qualname}{e.signature}\n\n{e.doc}" for e in entries)
        blocks.append(f"Chapter: the {mod} module\n\n{body}")
    out = []
    for k, vol in enumerate(_chunks(blocks, 6000)):
        if n_words(vol) >= LONG_MIN:
            text = _truncate_words(f"Python Standard Library Reference, volume {k + 1}\n\n{vol}", LONG_MAX)
            out.append({"id": f"pdf-pyref-{k + 1:03d}", "text": text, "kind": "reference-manual"})
    return out


# ---------------------------------------------------------------- quality classifier data

def quality_sets(pkgs, cps, package_docs, web: list[dict], seed: int, n_max: int
                 ) -> tuple[list[dict], list[dict], P.Markov]:
    """Positives: prose paragraphs from texts the web does not hold (the `quality_packages`'
    descriptions, copyright files too long for a web page, the standard library's package
    docstrings), minus any paragraph that still occurs in a web page (shared license wording):
    the classifier must not score web pages by text it was trained on as positive."""
    rng = rng_for(seed, "quality")
    held = quality_packages(pkgs)
    paras: dict[str, str] = {}
    texts = [("packages", p.description) for p in pkgs if p.name in held]
    texts += [("licenses", t) for _, t in cps if n_words(t) >= WEB_MAX_WORDS]
    texts += [("python-docs", t) for t in package_docs]
    in_web = "\x00".join(" ".join(d["text"].split()) for d in web)
    for origin, text in texts:
        for para in M.prose_paragraphs(text, min_words=15):
            if para not in in_web:
                paras.setdefault(para, origin)
    items = list(paras.items())
    rng.shuffle(items)
    items = items[:n_max]
    pos = [{"id": f"qpos-{i:05d}", "text": t, "label": "pos", "origin": o} for i, (t, o) in enumerate(items)]
    chain = P.Markov([t for t, _ in items])
    neg = []
    for i in range(len(pos)):
        kind = P.LOW_QUALITY_KINDS[i % len(P.LOW_QUALITY_KINDS)]
        neg.append({"id": f"qneg-{i:05d}", "text": P.low_quality(rng, kind, chain), "label": "neg",
                    "kind": kind})
    return pos, neg, chain


# ---------------------------------------------------------------- flan-style QA

def flan(pkgs, docs, seed: int, n_max: int) -> list[dict]:
    rng = rng_for(seed, "flan")
    qa = []
    for p in pkgs:
        syn = p.synopsis.rstrip(".")
        qa.append((f"What does the Debian package {p.name} provide?", f"It provides {syn}."))
        qa.append((f"In which archive section is the package {p.name}?",
                   f"The package {p.name} is in the {p.section} section."))
        qa.append((f"What is the priority of the package {p.name}?", f"Its priority is {p.priority}."))
        if p.description and first_sentence(p.description).endswith("."):
            qa.append((f"Summarize the package {p.name} in one sentence.", first_sentence(p.description)))
    for entries in docs.values():
        for e in entries:
            s = first_sentence(e.doc)
            if not s.endswith(".") or n_words(s) < 4:
                continue
            what = "function" if e.signature else ("module" if "." not in e.qualname else "class")
            qa.append((f"What does the Python {what} {e.qualname} do?", s))
    rng.shuffle(qa)
    return [{"id": f"flan-{i:05d}", "text": f"Q: {q}\nA: {a}"} for i, (q, a) in enumerate(qa[:n_max])]


# ---------------------------------------------------------------- evaluation sets

def eval_math(ids, seed: int) -> list[dict]:
    rng = rng_for(seed, "eval-math")
    out = []
    for i, (op, a, b) in enumerate(ids):
        p = A.render(rng, op, a, b)
        out.append({"id": f"math-{i:04d}", "question": p.question, "answer": str(p.answer), **p.meta()})
    return out


def eval_mc(ids, n_compare: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "eval-mc")
    out = []
    for i, (op, a, b) in enumerate(ids):
        c = a + b if op == "+" else a - b
        wrong: list[int] = []
        for d in rng.sample([1, -1, 10, -10, 2, -2, 11, -9, 100], 9):
            if c + d >= 0 and c + d not in wrong and len(wrong) < 3:
                wrong.append(c + d)
        choices = wrong + [c]
        rng.shuffle(choices)
        out.append({"id": f"mc-{i:04d}", "question": f"What is the result of {a} {op} {b}? Choose the "
                    f"correct number.", "choices": [str(x) for x in choices], "label": choices.index(c),
                    "kind": "arithmetic", "op": op, "a": a, "b": b})
    for j in range(n_compare):
        nums = rng.sample(range(10, 1000), 4)
        largest = rng.random() < 0.5
        target = max(nums) if largest else min(nums)
        word = "largest" if largest else "smallest"
        out.append({"id": f"mc-{len(ids) + j:04d}", "question": f"Which of these four numbers is the "
                    f"{word}? Look at each number carefully.", "choices": [str(x) for x in nums],
                    "label": nums.index(target), "kind": "compare"})
    return out


def split_packages(pkgs) -> tuple[list, list]:
    """(train, eval) subjects for instruction prompts: every fifth package is held out."""
    names = sorted({p.name: p for p in pkgs if p.synopsis}.items())
    train = [p for i, (_, p) in enumerate(names) if i % 5]
    held = [p for i, (_, p) in enumerate(names) if i % 5 == 0]
    return train, held


def eval_ifeval(held_pkgs, n: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "eval-ifeval")
    subjects = [{"name": p.name} for p in held_pkgs] + [{"topic": t} for t in I.TOPICS_EVAL]
    out, seen = [], set()
    while len(out) < n:
        prompt, constraints = I.draw_prompt(rng, rng.choice(subjects))
        if prompt not in seen:
            seen.add(prompt)
            out.append({"id": f"ifeval-{len(out):04d}", "prompt": prompt, "constraints": constraints})
    return out


# ---------------------------------------------------------------- math training sources

def math_pretrain(excluded: set[str], n_docs: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "math-pretrain")
    out = []
    for i in range(n_docs):
        probs = [A.draw(rng, excluded) for _ in range(rng.randint(1, 8))]
        text = "\n\n".join(f"{p.question}\nAnswer: {p.answer}" for p in probs)
        out.append({"id": f"mathpre-{i:06d}", "text": text, "problems": [p.identity for p in probs]})
    return out


def math_mid(excluded: set[str], n: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "math-mid")
    out = []
    for i in range(n):
        p = A.draw(rng, excluded)
        out.append({"id": f"mathmid-{i:06d}", "text": f"{p.question}\n{A.worked_solution(p, rng)}",
                    **p.meta()})
    return out


def sft(excluded: set[str], train_pkgs, n_math: int, n_if: int, seed: int) -> list[dict]:
    rng = rng_for(seed, "sft")
    recs = []
    for _ in range(n_math):
        p = A.draw(rng, excluded)
        recs.append({"messages": [{"role": "user", "content": p.question},
                                  {"role": "assistant", "content": A.worked_solution(p, rng)}],
                     "task": "math", **p.meta()})
    n = 0
    while n < n_if:
        pk = rng.choice(train_pkgs)
        demo = I.demonstration(rng, pk.name, pk.synopsis, pk.description)
        if demo is None:
            continue
        prompt, constraints, response = demo
        recs.append({"messages": [{"role": "user", "content": prompt},
                                  {"role": "assistant", "content": response}],
                     "task": "ifeval", "constraints": constraints})
        n += 1
    rng.shuffle(recs)
    return [{"id": f"sft-{i:06d}", **r} for i, r in enumerate(recs)]


def prompts(excluded: set[str], train_pkgs, n_math: int, n_if: int, name: str, seed: int) -> list[dict]:
    """RL or DPO prompts: math with the gold answer, instruction prompts with constraints."""
    rng = rng_for(seed, name)
    recs = []
    for _ in range(n_math):
        p = A.draw(rng, excluded)
        recs.append({"prompt": p.question, "answer": str(p.answer), "verifier": "math", **p.meta()})
    subjects = [{"name": p.name} for p in train_pkgs] + [{"topic": t} for t in I.TOPICS_TRAIN]
    for _ in range(n_if):
        prompt, constraints = I.draw_prompt(rng, rng.choice(subjects))
        recs.append({"prompt": prompt, "answer": "", "verifier": "ifeval", "constraints": constraints})
    rng.shuffle(recs)
    prefix = name.split("-")[0]
    return [{"id": f"{prefix}-{i:06d}", **r} for i, r in enumerate(recs)]


# ---------------------------------------------------------------- RULER haystacks

def haystacks(web_docs: list[dict], n: int, min_words: int, seed: int) -> list[dict]:
    """Long prose made of real web pages (packages and python docs, nothing planted)."""
    rng = rng_for(seed, "ruler")
    pool = [d for d in web_docs if d["topic"] in ("packages", "python-docs")]
    out = []
    for i in range(n):
        order = rng.sample(range(len(pool)), len(pool))
        parts, words = [], 0
        for k in order:
            parts.append(pool[k]["text"])
            words += n_words(pool[k]["text"])
            if words >= min_words:
                break
        out.append({"id": f"haystack-{i:03d}", "text": "\n\n".join(parts), "n_words": words,
                    "n_parts": len(parts)})
    return out
