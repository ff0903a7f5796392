"""Curation step settings the other tests leave at their defaults, each changing what the step keeps:
`dedup exact { date }` (the field keep = newest reads), `upsample { drop_below max_repeat per }`,
`decontaminate { ngram min_overlap }`. The steps are the functions `runners.curate` calls with the
stage config's values (tests/compiler/test_field_reach.py checks the values reach that config)."""

from __future__ import annotations

import numpy as np
from test_upsample import _docs, _token_percentile

from runners.curation.decontam import build_index, scan
from runners.curation.exact import run_exact
from runners.curation.io import read_shard, write_docs
from runners.curation.upsample import upsample


def test_exact_keep_newest_reads_the_date_field_it_is_given(tmp_path):
    docs = [
        {"id": "a", "text": "Same page", "date": "2024-01-01", "crawled": "2019-05-01"},
        {"id": "b", "text": "same  PAGE", "date": "2018-01-01", "crawled": "2023-02-02"},
    ]
    write_docs(tmp_path / "in.jsonl", docs)
    run_exact([tmp_path / "in.jsonl"], tmp_path / "by_date.jsonl", keep="newest")
    run_exact([tmp_path / "in.jsonl"], tmp_path / "by_crawl.jsonl", keep="newest", date_field="crawled")
    assert [d["id"] for d in read_shard(tmp_path / "by_date.jsonl")[0]] == ["a"]
    assert [d["id"] for d in read_shard(tmp_path / "by_crawl.jsonl")[0]] == ["b"]


def test_upsample_threshold_cap_and_grouping():
    docs = _docs()
    pct = _token_percentile(docs)
    result = upsample(docs, ratio=1.2, drop_below=0.6, max_repeat=4.0, seed=3)
    kept = {d["id"]: d["repeat"] for d in result.kept}
    assert kept and all(pct[i] >= 0.6 for i in kept)  # the default 40% would keep the 40th-60th percentiles
    top = [d for d in docs if pct[d["id"]] >= 0.95]
    top_mean = sum(kept.get(d["id"], 0) * d["n_tokens"] for d in top) / sum(d["n_tokens"] for d in top)
    assert abs(top_mean - 4.0) <= 0.4, top_mean  # the top 5% repeat max_repeat times on average, not 7
    by_topic = upsample(docs, ratio=1.2, seed=3).stats["groups"]
    one_group = upsample(docs, ratio=1.2, seed=3, group_field=None).stats["groups"]  # per = source
    assert len(by_topic) > 1 and list(one_group) == [""]


def test_decontamination_ngram_and_min_overlap():
    words = [f"w{i}" for i in range(20)]
    item = {"id": "q1", "question": " ".join(words), "answer": ""}
    text = "Notes: " + " ".join(words[:14]) + " and nothing else."  # 14 of the question's 20 words

    def found(n: int, overlap: float) -> bool:
        return bool(scan([text], build_index({"t": [item]}, n=n), overlap)[0])

    assert found(8, 0.5)  # 7 of its 13 8-grams: 54%
    assert not found(8, 0.6)
    assert not found(13, 0.5)  # 2 of its 8 13-grams
    assert np.isclose(scan([text], build_index({"t": [item]}, n=8), 0.5)[0][0].overlap, 7 / 13)
