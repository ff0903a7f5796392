"""Data order of the tiny spec, through `dvc repro`: the web documents that quality-aware upsampling
repeats (up to 7x and more) never have two copies in one training sequence of any stage that reads
them (pretrain at 256 tokens, longctx at 1024), with the windows cut as the training runner cuts
them (consecutive instances of seq_len + 1 tokens, runners/train/data.py)."""

from __future__ import annotations

import json
from collections import defaultdict
from itertools import pairwise
from pathlib import Path

import pytest
from tiny_repo import make_repo, repro, stage_name

from olmospec.stage_io import read_stage_config


def _windows(start: int, end: int, seq: int) -> tuple[int, int]:
    """First and last instance holding a token of [start, end): instance k is [k*seq, k*seq + seq]."""
    return max(0, -(-(start - seq) // seq)), (end - 1) // seq


@pytest.mark.slow
def test_upsampled_copies_never_share_a_training_sequence(tmp_path):
    from runners.curation.io import list_shards, read_shard
    from runners.curation.tokenize import TokenShard, encode_docs, load_tokenizer

    repo = make_repo(tmp_path / "repo")
    target = stage_name(repo, "tokenize-web")
    repro(repo, target)
    cfg = read_stage_config(repo / "stages" / f"{target}.json")
    shards = f"{cfg['output']}/shards"
    seqs = sorted({json.loads(p.read_text())["seq_len"] for p in (repo / "stages").glob("*.json")
                   if not p.name.endswith(".runtime.json") and shards in p.read_text()
                   and json.loads(p.read_text()).get("seq_len")})
    assert seqs == [256, 1024] and cfg["spread"] == 1024
    docs = [d for s in list_shards([repo / cfg["input"]["path"]]) for d in read_shard(s)[0]]
    repeated = [d for d in docs if d.get("repeat", 1) > 1]
    assert max(d["repeat"] for d in docs) >= 7 and len(repeated) > 100
    tok = load_tokenizer(repo / cfg["tokenizer"])
    shard = TokenShard(repo / shards)
    where: dict[tuple[int, ...], list[int]] = defaultdict(list)
    for i in range(len(shard)):
        where[tuple(shard.doc(i).tolist())].append(i)
    for d, ids in zip(repeated, encode_docs(repeated, tok), strict=True):
        copies = where[(*ids, tok.eos_id)]
        assert len(copies) >= d["repeat"], d["id"]
        for seq in seqs:
            spans = [_windows(int(shard.offsets[i]), int(shard.offsets[i + 1]), seq) for i in copies]
            assert all(a[1] < b[0] for a, b in pairwise(spans)), (d["id"], d["repeat"], seq)
    metrics = json.loads((Path(repo) / cfg["output"] / "metrics.json").read_text())
    assert metrics["docs_written"] == sum(d.get("repeat", 1) for d in docs)
