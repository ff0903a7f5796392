"""`olmospec data STEP INPUT OUTPUT`: each step on a user's own file, through the real command."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "specs/data/tiny"


def data(*args):
    return subprocess.run([sys.executable, "-m", "olmospec.cli", "data", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)


def lines(p):
    return [json.loads(x) for x in Path(p).read_text().splitlines() if x.strip()]


def test_exact_minhash_substring(tmp_path):
    docs = [{"id": f"d{i}", "text": f"document number {i} " * 30, "keep": i} for i in range(20)]
    docs.append({"id": "dup", "text": docs[3]["text"], "keep": "x"})
    docs.append({"id": "bad", "text": 5})
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs) + "{not json\n")
    r = data("exact", str(src), str(tmp_path / "out.jsonl"), "--json")
    assert r.returncode == 0, r.stderr
    stats = json.loads(r.stdout)
    assert stats["docs_in"] == 21 and stats["docs_removed"] == 1 and stats["rejects"] == 2
    kept = lines(tmp_path / "out.jsonl")
    assert len(kept) == 20 and kept[0]["keep"] == 0  # every input field kept
    removed = lines(tmp_path / "out.removed.jsonl")
    assert removed == [{"id": "dup", "reason": "exact_duplicate", "detail": removed[0]["detail"]}]
    rejects = lines(tmp_path / "out.rejects.jsonl")
    assert {(x["reason"], x["line"]) for x in rejects} == {("text_not_string", 22), ("invalid_json", 23)}
    assert data("minhash", str(src), str(tmp_path / "mh.jsonl"), "--threshold", "0.8", "--ngram", "5").returncode == 0
    assert data("substring", str(src), str(tmp_path / "ss.jsonl"), "--min-bytes", "100").returncode == 0


def test_decontaminate_and_fim(tmp_path):
    item = json.loads((TINY / "evals/math.jsonl").read_text().splitlines()[0])
    docs = [{"id": "clean", "text": "A page about packages and licenses. " * 5},
            {"id": "dirty", "text": "Homework: " + item["question"] + " Answer: " + item["answer"] + " Good luck."}]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    r = data("decontaminate", str(src), str(tmp_path / "out.jsonl"), "--against", str(TINY / "evals/math.jsonl"))
    assert r.returncode == 0, r.stderr
    assert [d["id"] for d in lines(tmp_path / "out.jsonl")] == ["clean"]
    assert lines(tmp_path / "out.removed.jsonl")[0]["reason"] == "contamination"
    r = data("fim", str(src), str(tmp_path / "fim.jsonl"), "--rate", "1.0", "--json")
    assert r.returncode == 0
    assert all(d["fim"]["order"] in ("psm", "spm") and d["text"] == src_doc["text"]
               for d, src_doc in zip(lines(tmp_path / "fim.jsonl"), docs, strict=True))


def test_bad_input_is_one_line_and_exit_1(tmp_path):
    r = data("exact", str(tmp_path / "missing.jsonl"), str(tmp_path / "o.jsonl"))
    assert r.returncode == 1 and "Traceback" not in r.stderr and "missing.jsonl" in r.stderr


def test_quality_counts_unreadable_training_records(tmp_path):
    good = [{"id": f"p{i}", "text": f"A clear paragraph that explains how package {i} installs its files."}
            for i in range(30)]
    bad = [{"id": f"n{i}", "text": f"buy cheap click here {i} free free free best price"} for i in range(30)]
    pos, neg, src = tmp_path / "pos.jsonl", tmp_path / "neg.jsonl", tmp_path / "in.jsonl"
    pos.write_text("".join(json.dumps(d) + "\n" for d in good) + "{broken\n" + json.dumps({"id": "p-x"}) + "\n")
    neg.write_text("".join(json.dumps(d) + "\n" for d in bad) + json.dumps({"id": "n-x", "text": 3}) + "\n")
    src.write_text("".join(json.dumps(d) + "\n" for d in good[:5] + bad[:5]))
    out = tmp_path / "scored.jsonl"
    r = data("quality", str(src), str(out), "--positive", str(pos), "--negative", str(neg), "--json")
    assert r.returncode == 0, r.stderr
    c = json.loads(r.stdout)["classifier"]
    assert (c["positive_docs"], c["positive_rejects"], c["negative_docs"], c["negative_rejects"]) == (30, 2, 30, 1)
    listed = lines(c["rejects_file"])
    assert {(x["role"], x["line"], x["reason"]) for x in listed} == {
        ("positive", 31, "invalid_json"), ("positive", 32, "missing_text"), ("negative", 31, "text_not_string")}
    assert json.loads((tmp_path / "scored.stats.json").read_text())["classifier"]["positive_rejects"] == 2
    r = data("quality", str(src), str(out), "--positive", str(pos), "--negative", str(neg))
    assert r.returncode == 0 and "2 positive and 1 negative records unreadable" in r.stdout
