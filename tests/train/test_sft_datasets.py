"""An SFT stage whose data is an HF dataset (`source { dataset = ... split = ... }`) reads that
dataset's split, through the spec and `dvc repro`: a `save_to_disk` DatasetDict folder, and a hub id
read offline from the local `datasets` cache (as left by an earlier download)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from dvc_repo import make_repo, repro, run_dir, word_docs

SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 320  data = [text] }
source text { path = "data/text.jsonl" }
source saved { dataset = "data/chats_saved"  split = "test" }
source hub { dataset = "someorg/chats"  split = "test" }
model tiny {
  d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}
stage sft { model = tiny  data = saved  epochs = 1  seq = 128  batch = 4 seqs  lr = 1e-3
            runtime { device = cpu  threads = 1 } }
stage sft_hub { kind = sft  model = tiny  data = hub  epochs = 1  seq = 128  batch = 4 seqs  lr = 1e-3
                runtime { device = cpu  threads = 1 } }
"""


def _chats(split: str, n: int) -> list[dict]:
    return [{"id": f"{split}{i}", "messages": [{"role": "user", "content": f"what is {i} + {i}?"},
                                               {"role": "assistant", "content": f"{2 * i}"}]} for i in range(n)]


def _cache_hub_dataset(hf_home: Path, name: str, splits: dict[str, list[dict]], tmp: Path) -> None:
    """Leave `name` in the datasets cache as a download would: prepared arrow files per split."""
    import datasets

    files = {}
    for split, rows in splits.items():
        files[split] = str(tmp / f"{split}.jsonl")
        Path(files[split]).write_text("".join(json.dumps(r) + "\n" for r in rows))
    cache = hf_home / "datasets"
    datasets.load_dataset("json", data_files=files, cache_dir=str(cache))
    prepared = next(p for p in (cache / "json").glob("*/*/*") if p.is_dir())
    org, ds = name.split("/")
    dst = cache / f"{org}___{ds}" / "default" / prepared.parent.name / prepared.name
    shutil.copytree(prepared, dst)
    for f in dst.glob("json-*.arrow"):
        f.rename(f.with_name(f.name.replace("json-", f"{ds}-")))


@pytest.mark.slow
def test_sft_reads_the_split_of_a_saved_and_a_cached_dataset(tmp_path):
    import datasets

    splits = {"train": _chats("train", 30), "test": _chats("test", 12)}
    repo = make_repo(tmp_path / "r", SPEC, {"data/text.jsonl": word_docs(200)})
    datasets.DatasetDict({k: datasets.Dataset.from_list(v) for k, v in splits.items()}).save_to_disk(
        str(repo / "data/chats_saved"))
    hf_home = tmp_path / "hf"
    _cache_hub_dataset(hf_home, "someorg/chats", splits, tmp_path)
    repro(repo, HF_HOME=str(hf_home))
    for stage in ("sft-", "sft_hub-"):
        out = run_dir(repo, stage)
        data = json.loads((out / "metrics.json").read_text())["sft_data"]
        assert data["conversations"] == 12 and data["skipped"] == {}, (stage, data)  # the test split only
        inputs = json.loads((out / "receipt.json").read_text())["input_hashes"]
        assert any("test" in k for k in inputs), inputs  # the split's own files are fingerprinted
    assert os.environ.get("HF_HOME") != str(hf_home)
