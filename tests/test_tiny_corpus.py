"""The committed tiny corpus (specs/data/tiny) and its generator.

Checks on the committed files run anywhere; regenerating needs the machine image the corpus was
built on (its dpkg status, license files and Python 3.11.7 standard library), so those tests skip
elsewhere, and the comparison with the committed files runs only when the inputs and writer
versions recorded in corpus_stats.json match this machine's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("pyarrow")
pytest.importorskip("zstandard")

TINY = Path(__file__).resolve().parents[1] / "specs" / "data" / "tiny"
GENERATOR = TINY / "make_corpus.py"
sys.dont_write_bytecode = True  # importing the generator's package must not litter the data folder
sys.path.insert(0, str(TINY))

from corpus import arithmetic as A
from corpus import instructions as I
from corpus import report
from corpus.text import jaccard, read_records

STATS = json.loads((TINY / "corpus_stats.json").read_text())
PLANTED = json.loads((TINY / "web" / "_planted.json").read_text())


def records(rel: str) -> list[dict]:
    return read_records(TINY / rel)


def folder(name: str) -> list[dict]:
    return [r for rel in STATS["files"] if rel.startswith(name + "/") for r in records(rel)]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "corpus" not in p.relative_to(root).parts[:1]
            and p.name != "make_corpus.py"}


# ---------------------------------------------------------------- committed files

def test_stats_agree_with_files():
    import hashlib

    on_disk = sorted(str(p.relative_to(TINY)) for p in TINY.rglob("*")
                     if p.is_file() and p.suffix in (".jsonl", ".gz", ".zst", ".parquet"))
    assert on_disk == sorted(STATS["files"])
    for rel, f in STATS["files"].items():
        data = (TINY / rel).read_bytes()
        assert len(data) == f["bytes"] and hashlib.sha256(data).hexdigest() == f["sha256"], rel
        assert len(records(rel)) == f["records"], rel
    assert STATS["total_bytes_on_disk"] == sum(f["bytes"] for f in STATS["files"].values())
    assert STATS["total_bytes_on_disk"] < 30e6


def test_readme_matches_stats():
    assert (TINY / "README.md").read_text() == report.readme(STATS)


def test_every_record_has_unique_string_id_and_text():
    for rel in STATS["files"]:
        recs = records(rel)
        ids = [r["id"] for r in recs]
        assert all(isinstance(i, str) and i for i in ids), rel
        assert len(set(ids)) == len(ids), rel
        for r in recs:
            if "messages" in r:
                assert all(isinstance(m["content"], str) and m["content"] for m in r["messages"])
            elif "verifier" in r:  # RL / DPO prompts
                assert isinstance(r["prompt"], str) and isinstance(r["answer"], str)
                assert r["verifier"] in ("math", "ifeval")
            elif rel.startswith("evals/"):
                assert isinstance(r.get("question", r.get("prompt")), str)
            else:
                assert isinstance(r["text"], str) and r["text"].strip(), (rel, r["id"])
            strings = [v for v in r.values() if isinstance(v, str)] + [m["content"] for m in r.get("messages", [])]
            assert all(s.isascii() and s.isprintable() or all(32 <= ord(ch) < 127 or ch in "\n\t" for ch in s)
                       for s in strings), (rel, r["id"])


def test_eval_identities_absent_from_training_text():
    evals = records("evals/math.jsonl") + [r for r in records("evals/mc.jsonl") if r["kind"] == "arithmetic"]
    held = {A.identity(r["op"], r["a"], r["b"]) for r in evals}
    assert len(held) == len(evals) == STATS["checks"]["eval_identities"]
    planted_docs = {c["doc_id"] for c in PLANTED["contamination"]}
    regexes = A.template_regexes()
    scanned = 0
    for rel in STATS["files"]:
        if rel.startswith(("evals/", "ruler/")):
            continue
        for r in records(rel):
            texts = [r.get("text") or "", r.get("prompt") or ""] + [m["content"] for m in r.get("messages", [])]
            found = set().union(*(A.identities_in(t, regexes) for t in texts)) & held
            assert not found or r["id"] in planted_docs, (rel, r["id"], found)
            if "op" in r and r["id"] not in planted_docs:
                assert A.identity(r["op"], r["a"], r["b"]) not in held
            assert not set(r.get("problems", [])) & held
            scanned += 1
    assert scanned > 30000


def test_quality_positives_are_not_web_text():
    """The classifier scores the web documents: none of its positives may be a web page's text."""
    web = "\x00".join(" ".join(r["text"].split()) for r in folder("web"))
    positives = folder("quality_pos")
    assert len(positives) > 1000
    assert [r["id"] for r in positives if " ".join(r["text"].split()) in web] == []
    assert STATS["checks"]["quality_positives_in_web"] == 0


def test_math_answers_are_exact():
    for r in records("evals/math.jsonl"):
        assert int(r["answer"]) == (r["a"] + r["b"] if r["op"] == "+" else r["a"] - r["b"]) >= 0
        assert len(r["question"].split()) >= 10
    for r in folder("sft"):
        if r["task"] == "math":
            c = r["a"] + r["b"] if r["op"] == "+" else r["a"] - r["b"]
            assert r["messages"][1]["content"].endswith(f"Answer: {c}")
    for r in records("evals/mc.jsonl"):
        assert len(r["choices"]) == 4 == len(set(r["choices"])) and 0 <= r["label"] < 4
    for doc in records("math_pretrain/math-0000.jsonl.zst")[:500]:
        for block in doc["text"].split("\n\n"):
            (ident,) = A.identities_in(block)
            op, a, b = ident.split(":")
            c = int(a) + int(b) if op == "add" else int(a) - int(b)
            assert block.endswith(f"\nAnswer: {c}")


def test_instruction_demos_pass_their_constraints():
    allowed = {"lowercase", "uppercase", "word_count", "include_keyword", "exclude_keyword", "end_with", "json"}
    demos = [r for r in folder("sft") if r["task"] == "ifeval"]
    assert len(demos) >= 200
    for r in demos:
        assert I.check_all(r["messages"][1]["content"], r["constraints"]), r["id"]
    for r in records("evals/ifeval.jsonl") + [r for r in folder("rl_prompts") if r["verifier"] == "ifeval"]:
        assert r["constraints"] and {c["type"] for c in r["constraints"]} <= allowed


def test_planted_ground_truth():
    web = {r["id"]: r for r in folder("web")}
    shard = {r["id"]: rel for rel in STATS["files"] if rel.startswith("web/") for r in records(rel)}
    for d in PLANTED["exact_duplicates"]:
        assert web[d["id"]]["text"] == web[d["original"]]["text"] and d["id"] != d["original"]
    assert any(shard[d["id"]] != shard[d["original"]] for d in PLANTED["exact_duplicates"])
    for d in PLANTED["near_duplicates"]:
        j = jaccard(web[d["id"]]["text"], web[d["original"]]["text"])
        assert 0.8 <= j <= 0.95 and abs(j - d["jaccard_5gram"]) < 1e-3
    b = PLANTED["boilerplate"]
    assert 600 <= len(b["header_text"]) <= 1000 and 600 <= len(b["footer_text"]) <= 1000
    assert all(web[i]["text"].startswith(b["header_text"]) for i in b["header_ids"])
    assert all(web[i]["text"].endswith(b["footer_text"]) for i in b["footer_ids"])
    assert all(i in web for i in (d["id"] for d in PLANTED["low_quality"]))
    mid = {r["id"]: r for r in folder("math_mid")}
    evals = {r["id"] for r in records("evals/math.jsonl") + records("evals/mc.jsonl")}
    assert 20 <= sum(c["source"] == "web" for c in PLANTED["contamination"]) <= 40
    for c in PLANTED["contamination"]:
        doc = web.get(c["doc_id"]) or mid[c["doc_id"]]
        assert c["eval_id"] in evals and c["edited_question"] in doc["text"]
    for group in PLANTED["real_exact_duplicate_groups"]:
        assert len({web[i]["text"] for i in group}) == 1
    p = STATS["planted"]
    assert p["exact_duplicates"] == len(PLANTED["exact_duplicates"])
    assert p["near_duplicates"] == len(PLANTED["near_duplicates"])
    assert p["contaminated_eval_items"] == len({c["eval_id"] for c in PLANTED["contamination"]})


def test_long_documents_and_haystacks():
    for r in folder("long") + folder("pdfs"):
        assert 2000 <= len(r["text"].split()) <= 20000, r["id"]
    hay = records("ruler/haystack.jsonl")
    assert len(hay) >= 20 and all(len(r["text"].split()) >= 5000 for r in hay)


# ---------------------------------------------------------------- the generator

def _machine_has_inputs() -> bool:
    from corpus import machine

    return machine.DPKG_STATUS.is_file() and machine.PY_LIB.is_dir() and machine.COMMON_LICENSES.is_dir()


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    if not _machine_has_inputs():
        pytest.skip("this machine image lacks the generator's inputs")
    outs = [tmp_path_factory.mktemp(f"corpus{i}") for i in range(2)]
    # NOTE: both runs at once (2 cores), with different hash seeds: output must not depend on them
    procs = [subprocess.Popen([sys.executable, str(GENERATOR), "--out", str(o)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env={**os.environ, "PYTHONHASHSEED": str(i)})
             for i, o in enumerate(outs)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    return outs


def test_generator_is_deterministic(two_runs):
    a, b = (tree(o) for o in two_runs)
    assert a.keys() == b.keys() and len(a) == len(STATS["files"]) + 3
    assert [k for k in a if a[k] != b[k]] == []


def test_committed_corpus_matches_generator(two_runs):
    fresh = json.loads((two_runs[0] / "corpus_stats.json").read_text())
    if fresh["environment"] != STATS["environment"]:
        pytest.skip("different machine inputs or writer versions: cannot reproduce the committed bytes")
    assert tree(two_runs[0]) == tree(TINY)
