"""The sharded per-document steps and upsampling: same result as the in-memory functions, the same
with 1 and 2 workers, and after a lost shard marker (a killed run) is resumed."""

import json
import random
from pathlib import Path

from runners.curation.io import write_docs
from runners.curation.sharded import run_docwise, run_upsample
from runners.curation.upsample import upsample


def _docs(n=600, seed=0):
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "lambda", "mu"]
    return [{"id": f"d{i:04d}", "text": " ".join(rng.choice(words) for _ in range(rng.randint(20, 200))),
             "quality": rng.random(), "topic": rng.choice(["a", "b", "c"])} for i in range(n)]


def _shards(tmp_path, docs, k=3):
    paths = []
    for i in range(k):
        p = tmp_path / f"in-{i}.jsonl"
        write_docs(p, docs[i::k])
        paths.append(str(p))
    return paths


def _out(path):
    return [json.loads(x) for x in Path(path).read_text().splitlines() if x.strip()]


def test_upsample_sharded_matches_in_memory_and_workers(tmp_path):
    docs = _docs()
    shards = _shards(tmp_path, docs)
    one = run_upsample(shards, tmp_path / "one.jsonl", workers=1)
    two = run_upsample(shards, tmp_path / "two.jsonl", workers=2)
    assert _out(tmp_path / "one.jsonl") == _out(tmp_path / "two.jsonl")
    assert one["docs_kept"] == two["docs_kept"] > 0
    ref = upsample([d for i in range(3) for d in docs[i::3]], ratio=1.0)
    assert {(d["id"], d["repeat"]) for d in ref.kept} == {(d["id"], d["repeat"]) for d in _out(tmp_path / "one.jsonl")}


def test_docwise_resume_after_lost_marker(tmp_path):
    docs = _docs(90)
    shards = _shards(tmp_path, docs)
    params = {"rate": 0.5, "spm_rate": 0.5, "seed": 3}
    work = tmp_path / "work"
    run_docwise("fim", shards, tmp_path / "a.jsonl", params, work_dir=work, keep_work=True)
    first = _out(tmp_path / "a.jsonl")
    marker = next((work / "markers" / "apply").glob("*.done"))
    marker.unlink()  # as if the run had been killed before this shard finished
    stats = run_docwise("fim", shards, tmp_path / "a.jsonl", params, work_dir=work, keep_work=True)
    assert stats["shards_resumed"]["apply"] == 2
    assert _out(tmp_path / "a.jsonl") == first
    b = run_docwise("fim", shards, tmp_path / "b.jsonl", params, workers=2)
    assert _out(tmp_path / "b.jsonl") == first and b["fim"]["psm"] + b["fim"]["spm"] > 0


def test_decontaminate_sharded_report(tmp_path):
    item = {"id": "q1", "question": "How many apples does Tom have after buying forty two more apples today",
            "answer": "57"}
    evals = tmp_path / "math.jsonl"
    evals.write_text(json.dumps(item) + "\n")
    docs = _docs(30)
    docs[7]["text"] = "worksheet: " + item["question"] + " answer 57"
    shards = _shards(tmp_path, docs)
    stats = run_docwise("decontaminate", shards, tmp_path / "o.jsonl",
                        {"against": {"math": str(evals)}, "ngram": 8, "min_overlap": 0.5}, workers=2)
    assert stats["docs_removed"] == 1
    assert stats["report"]["math"] == {"items": 1, "items_too_short": 0, "items_found": 1, "documents_removed": 1}
