"""The curation stages on the tiny corpus find what was planted in it (specs/data/tiny/web/_planted.json):
every planted exact and near duplicate is removed (the original kept), the boilerplate header/footer is
cut from the documents that carry it, and the contaminated documents that survive dedup are removed
by decontamination. Runs the stage runners themselves, on the stage configs `olmospec compile` writes."""

import json
from pathlib import Path

import pytest

from olmospec.stage_io import read_stage_config

ROOT = Path(__file__).resolve().parents[2]
PLANTED = json.loads((ROOT / "specs/data/tiny/web/_planted.json").read_text())


def _ids(path):
    return {json.loads(x)["id"] for x in Path(path).read_text().splitlines() if x.strip()}


def _docs(stage_out):
    from runners.curation.io import list_shards, read_shard

    return [d for s in list_shards([stage_out / "docs"]) for d in read_shard(s)[0]]


def _config(label, tmp_path, upstream_out=None):
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    name = next(n for n, st in stages.items() if n.rsplit("-", 1)[0] == label and any(v.split("@")[0] == "base" for v in st["meta"]["variants"]))
    cfg = read_stage_config(ROOT / "stages" / f"{name}.json")
    cfg["output"] = str(tmp_path / name)
    if upstream_out is not None:
        cfg["input"] = {"kind": "docs", "name": "web", "path": str(upstream_out / "docs")}
    return cfg


@pytest.mark.slow
def test_tiny_web_curation_finds_planted_items(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    from runners.curate import run

    outs = {}
    prev = None
    for step in ("exact", "minhash", "substring"):
        cfg = _config(f"web-{step}", tmp_path, prev)
        stats = run(cfg)
        prev = Path(cfg["output"])
        outs[step] = (prev, stats)
    removed_exact = _ids(outs["exact"][0] / "removed.jsonl")
    planted_exact = {d["id"] for d in PLANTED["exact_duplicates"]}
    # exactly one copy of each planted text survives (the first in input order)
    from collections import Counter

    from runners.curation.io import read_shard
    from runners.curation.normalize import normalize_exact

    source = {}
    for shard in sorted((ROOT / "specs/data/tiny/web").glob("*.jsonl.zst")):
        source.update({d["id"]: d["text"] for d in read_shard(shard)[0]})
    kept = Counter(normalize_exact(d["text"]) for d in _docs(outs["exact"][0]))
    assert outs["exact"][1]["parts"] == 3  # one part per input shard: the next step runs 3 tasks
    for d in PLANTED["exact_duplicates"]:
        assert kept[normalize_exact(source[d["original"]])] == 1, d
        assert d["id"] in removed_exact or d["original"] in removed_exact, d
    real = sum(len(g) - 1 for g in PLANTED["real_exact_duplicate_groups"])
    assert outs["exact"][1]["docs_removed"] == len(planted_exact) + real
    removed_near = _ids(outs["minhash"][0] / "removed.jsonl")
    missed = [d for d in PLANTED["near_duplicates"]
              if not (d["id"] in removed_near | removed_exact or d["original"] in removed_near)]
    # NOTE: LSH is probabilistic: at 26 x 11 bands a pair at Jaccard 0.85 shares no bucket with
    # probability ~0.5%. A miss must be exactly that (no shared band), never a verification error.
    assert len(missed) <= 0.05 * len(PLANTED["near_duplicates"]), missed
    from runners.curation.minhash import band_keys, shingle_batch, signatures_flat

    mh = outs["minhash"][1]["minhash"]
    for d in missed:
        keys = band_keys(signatures_flat(*shingle_batch([source[d["id"]], source[d["original"]]], mh["ngram"]),
                                         mh["num_perm"], mh["seed"]), mh["bands"], mh["rows"])
        assert not (keys[0] == keys[1]).any(), d
    sub = outs["substring"][1]
    boiler = set(PLANTED["boilerplate"]["footer_ids"]) | set(PLANTED["boilerplate"].get("header_ids", []))
    assert sub["docs_modified"] >= len(boiler - removed_exact - removed_near) * 0.9
    footer = PLANTED["boilerplate"].get("footer_text") or ""
    if footer:
        assert sum(footer[:200] in d["text"] for d in _docs(outs["substring"][0])) <= 1  # one copy kept at most
    cfg = _config("web-decontaminate", tmp_path, outs["substring"][0])
    cfg["step"] = {**cfg["step"]}
    stats = run(cfg)
    contaminated = {c["doc_id"] for c in PLANTED["contamination"] if c["source"] == "web"}
    survivors = contaminated - removed_exact - removed_near
    found = _ids(Path(cfg["output"]) / "removed.jsonl")
    assert found <= survivors  # no clean document removed
    # NOTE: 8-grams with 50% overlap (the Tulu 3 rule the spec asks for) cannot see an 18-word item
    # whose one edit falls mid-way (a deleted word breaks 8 of its 11 8-grams); two of the planted
    # pages are such. Everything else is found.
    assert len(found) >= 0.9 * len(survivors)
    assert stats["removed_by_reason"] == {"contamination": stats["docs_removed"]}
