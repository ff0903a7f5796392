"""`upsample { tokens = N }` means tokens of the project's tokenizer (what the tokenize stage writes),
`upsample { words = N }` whitespace words; both through `dvc repro` on the tiny corpus."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tiny_repo import make_repo, repro, stage_name

from olmospec.stage_io import read_stage_config

SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 1024  data = [web_raw] }
source web_raw { path = "data/tiny/web/*.jsonl.zst" }
source quality_pos { path = "data/tiny/quality_pos/*.jsonl.gz" }
source quality_neg { path = "data/tiny/quality_neg/*.jsonl.gz" }
curate web_t from web_raw {
  quality linear { positive = [quality_pos]  negative = [quality_neg] }
  upsample { drop_below = 40%  max_repeat = 7x  per = topic  tokens = 500K }
}
curate web_w from web_raw {
  quality linear { positive = [quality_pos]  negative = [quality_neg] }
  upsample { drop_below = 40%  max_repeat = 7x  per = topic  words = 400K }
}
mix m { web_t 50% { max_repeat = 2x }  web_w 50% { max_repeat = 2x } }
model tiny { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok  attention = repeat(full) }
stage pretrain { model = tiny  data = m  steps = 10  seq = 64  batch = 4 seqs  lr = 1e-3 }
"""


@pytest.mark.slow
def test_upsample_targets_are_tokens_or_words(tmp_path):
    from runners.curation.io import list_shards, read_shard

    repo = make_repo(tmp_path / "repo", SPEC)
    tok_t, tok_w = stage_name(repo, "tokenize-web_t"), stage_name(repo, "tokenize-web_w")
    repro(repo, tok_t, tok_w)
    written = json.loads((repo / read_stage_config(repo / "stages" / f"{tok_t}.json")["output"]
                          / "metrics.json").read_text())["tokens"]
    assert abs(written - 500_000) / 500_000 < 0.02, written  # words would miss by the tokens-per-word ratio
    up_w = read_stage_config(repo / "stages" / f"{stage_name(repo, 'web_w-upsample')}.json")
    assert "tokenizer" not in up_w
    docs = [d for s in list_shards([repo / up_w["output"] / "docs"]) for d in read_shard(s)[0]]
    words = sum(len(d["text"].split()) * d["repeat"] for d in docs)
    assert abs(words - 400_000) / 400_000 < 0.02, words
    stats = json.loads((repo / up_w["output"] / "stats.json").read_text())
    assert stats["upsample"]["unit"] == "words"


def test_tokens_target_needs_one_tokenizer(tmp_path):
    spec = tmp_path / "s.ospec"
    spec.write_text(SPEC.replace('tokenizer tok { train = bpe  vocab = 1024  data = [web_raw] }\n', '')
                    .replace("tokenizer = tok  ", "").replace("data/tiny", str(tmp_path)))
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "check", str(spec)], capture_output=True,
                       text=True, check=False)
    assert r.returncode == 1 and "upsample 'tokens' are counted with the project's tokenizer" in r.stderr
    assert "Traceback" not in r.stderr
