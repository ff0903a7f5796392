"""The web source (Common Crawl analog): real pages, planted problems, three shards, ground truth.

Real exact duplicates (the same license text in many copyright files, GPL and GPL-3, ...) are
kept and reported, not removed. Everything planted goes onto documents whose text is unique in
the real part, and the planted sets are disjoint, so `_planted.json` is an exact answer key:
an exact-duplicate copy is byte-identical to its original (2 of 3 copies land in another shard),
a near duplicate is 0.80-0.95 word-5-gram Jaccard from its original, boilerplate pages carry
`planting.HEADER` and/or `planting.FOOTER` verbatim, contaminated pages hold lightly edited
evaluation items with their answers.
"""

from __future__ import annotations

from . import arithmetic as A
from . import planting as P
from .sources import rng_for
from .text import n_words

N_SHARDS = 3
N_EXACT_ORIGINALS, N_EXACT_TWICE = 50, 10      # 50 originals, 10 of them copied twice: 60 copies
N_NEAR = 60
N_HEADER_ONLY, N_FOOTER_ONLY, N_BOTH = 100, 100, 50
N_SPAM, N_LOW_IN_TOPIC = 250, 60
N_WORKSHEETS, ITEMS_PER_WORKSHEET, N_HOSTS = 12, 2, 8
LETTERS = "ABCD"


def _render_item(item: dict, question: str) -> str:
    if "choices" in item:
        opts = "  ".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(item["choices"]))
        return f"{question}\n{opts}\nCorrect answer: {LETTERS[item['label']]}) {item['choices'][item['label']]}"
    return f"{question}\nAnswer: {item['answer']}"


def build(real: list[dict], eval_items: list[dict], chain: P.Markov, seed: int):
    """-> (shards: list of record lists, planted: dict, contaminated eval ids used)."""
    rng = rng_for(seed, "web")
    by_text: dict[str, list[str]] = {}
    for d in real:
        by_text.setdefault(d["text"], []).append(d["id"])
    real_groups = [ids for ids in by_text.values() if len(ids) > 1]
    docs = {d["id"]: dict(d) for d in real}
    unique = [d["id"] for d in real if len(by_text[d["text"]]) == 1]
    rng.shuffle(unique)
    # NOTE: license texts forbid changing them, so near duplicates are made of other topics only
    long_enough = [i for i in unique if n_words(docs[i]["text"]) >= 150 and docs[i]["topic"] != "licenses"]
    near_orig = long_enough[:N_NEAR]
    near_set = set(near_orig)
    rest = [i for i in unique if i not in near_set]
    take = iter(rest)
    exact_orig = [next(take) for _ in range(N_EXACT_ORIGINALS)]
    header_ids = [next(take) for _ in range(N_HEADER_ONLY + N_BOTH)]
    footer_ids = header_ids[N_HEADER_ONLY:] + [next(take) for _ in range(N_FOOTER_ONLY)]
    hosts = [i for i in take if docs[i]["topic"] == "packages"][:N_HOSTS]

    shard_of = {i: rng.randrange(N_SHARDS) for i in sorted(docs)}
    extras: list[tuple[dict, dict]] = []   # (record without id, ground-truth entry without id)

    for k, orig in enumerate(exact_orig):
        for _ in range(2 if k < N_EXACT_TWICE else 1):
            s = shard_of[orig] if rng.random() < 1 / 3 else (shard_of[orig] + rng.randint(1, 2)) % N_SHARDS
            rec = {k2: v for k2, v in docs[orig].items() if k2 != "id"}
            extras.append((rec, {"kind": "exact_duplicate", "original": orig, "shard": s,
                                 "original_shard": shard_of[orig]}))
    for orig in near_orig:
        text = docs[orig]["text"]
        vocab = text.split() + P.FILLER_WORDS
        made = None
        while made is None:
            made = P.near_duplicate(rng, text, vocab, hi=round(rng.uniform(0.83, 0.95), 3))
        new, j, edits = made
        rec = {**{k2: v for k2, v in docs[orig].items() if k2 != "id"}, "text": new}
        extras.append((rec, {"kind": "near_duplicate", "original": orig, "jaccard_5gram": j,
                             "edits": edits, "shard": rng.randrange(N_SHARDS)}))
    for i in header_ids:
        docs[i]["text"] = f"{P.HEADER}\n\n{docs[i]['text']}"
    for i in footer_ids:
        docs[i]["text"] = f"{docs[i]['text']}\n\n{P.FOOTER}"
    for k in range(N_SPAM + N_LOW_IN_TOPIC):
        kind = P.LOW_QUALITY_KINDS[k % len(P.LOW_QUALITY_KINDS)]
        topic = "spam" if k < N_SPAM else rng.choice(["packages", "python-docs"])
        extras.append(({"text": P.low_quality(rng, kind, chain), "topic": topic, "origin": "generated"},
                       {"kind": "low_quality", "low_quality_kind": kind, "topic": topic,
                        "shard": rng.randrange(N_SHARDS)}))

    # contamination: worksheets (new pages) and short quizzes appended to real package pages
    n_items = N_WORKSHEETS * ITEMS_PER_WORKSHEET + len(hosts)
    math_items = [e for e in eval_items if "choices" not in e]
    mc_items = [e for e in eval_items if "choices" in e and e.get("kind") == "arithmetic"]
    chosen = rng.sample(math_items, n_items * 2 // 3) + rng.sample(mc_items, n_items - n_items * 2 // 3)
    rng.shuffle(chosen)
    contamination = []
    it = iter(chosen)
    for w in range(N_WORKSHEETS):
        parts, entries = [], []
        for q in range(ITEMS_PER_WORKSHEET):
            item = next(it)
            edited, how = P.edit_question(rng, item["question"])
            parts.append(f"{q + 1}. {_render_item(item, edited)}")
            entries.append({"eval_id": item["id"], "eval_set": "mc" if "choices" in item else "math",
                            "edits": how, "edited_question": edited})
        text = (f"Practice worksheet {w + 1}: adding and subtracting\n\nWork through these problems, then "
                f"check your answers below each one.\n\n" + "\n\n".join(parts) +
                "\n\nNew worksheets are posted every week. Print this page for your class.")
        extras.append(({"text": text, "topic": "education", "origin": "generated"},
                       {"kind": "contamination", "items": entries, "shard": rng.randrange(N_SHARDS)}))
    for host in hosts:
        item = next(it)
        edited, how = P.edit_question(rng, item["question"])
        docs[host]["text"] += f"\n\nTest yourself: {_render_item(item, edited)}"
        contamination.append({"doc_id": host, "source": "web", "new_document": False,
                              "eval_id": item["id"], "eval_set": "mc" if "choices" in item else "math",
                              "edits": how, "edited_question": edited})

    # neutral ids for everything planted, in shuffled order
    rng.shuffle(extras)
    exact, near, low = [], [], []
    shards: list[list[dict]] = [[] for _ in range(N_SHARDS)]
    for i in sorted(docs):
        shards[shard_of[i]].append(docs[i])
    for k, (rec, truth) in enumerate(extras):
        rid = f"web-extra-{k:04d}"
        shards[truth["shard"]].append({"id": rid, **rec})
        if truth["kind"] == "exact_duplicate":
            exact.append({"id": rid, "original": truth["original"], "shard": truth["shard"],
                          "original_shard": truth["original_shard"]})
        elif truth["kind"] == "near_duplicate":
            near.append({"id": rid, "original": truth["original"], "jaccard_5gram": truth["jaccard_5gram"],
                         "edits": truth["edits"], "shard": truth["shard"]})
        elif truth["kind"] == "low_quality":
            low.append({"id": rid, "kind": truth["low_quality_kind"], "topic": truth["topic"]})
        else:
            for e in truth["items"]:
                contamination.append({"doc_id": rid, "source": "web", "new_document": True, **e})
    for s in shards:
        rng.shuffle(s)
    planted = {
        "exact_duplicates": exact, "near_duplicates": near,
        "boilerplate": {"header_text": P.HEADER, "footer_text": P.FOOTER,
                        "header_ids": sorted(header_ids), "footer_ids": sorted(footer_ids)},
        "low_quality": low, "contamination": contamination,
        "real_exact_duplicate_groups": sorted(sorted(g) for g in real_groups),
        "definitions": {
            "near_duplicate": "word 5-gram Jaccard on lowercased whitespace tokens, in [0.80, 0.95]",
            "exact_duplicate": "byte-identical text, different id; original listed",
            "boilerplate": "header_text + blank line prepended and/or blank line + footer_text appended",
            "contamination": "evaluation item, lightly edited (numbers unchanged), with its answer",
        },
    }
    return shards, planted


def plant_in_math_mid(records: list[dict], eval_math: list[dict], used: set[str], n: int, seed: int):
    """Insert n edited evaluation problems, with worked solutions, at random places of math_mid;
    ids are renumbered afterwards so the planted ones look like the rest."""
    rng = rng_for(seed, "math-mid-contamination")
    items = rng.sample([e for e in eval_math if e["id"] not in used], n)
    planted = []
    recs = list(records)
    for item in items:
        edited, how = P.edit_question(rng, item["question"])
        p = A.Problem(item["op"], item["a"], item["b"], item["template"], edited)
        rec = {"text": f"{edited}\n{A.worked_solution(p, rng)}", **p.meta()}
        pos = rng.randrange(len(recs) + 1)
        recs.insert(pos, rec)
        planted.append((rec, {"source": "math_mid", "new_document": True, "eval_id": item["id"],
                              "eval_set": "math", "edits": how, "edited_question": edited}))
    out = [{"id": f"mathmid-{i:06d}", **{k: v for k, v in r.items() if k != "id"}} for i, r in enumerate(recs)]
    by_obj = {id(r): i for i, r in enumerate(recs)}
    entries = [{"doc_id": out[by_obj[id(rec)]]["id"], **e} for rec, e in planted]
    return out, entries
