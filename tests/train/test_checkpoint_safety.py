"""Resuming is safe: a checkpoint file that would run code when unpickled is refused (weights_only
loading), and the resume fingerprint covers the token content, so changed tokens behind an
unchanged meta.json discard old checkpoints instead of resuming them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import torch
from train_helpers import make_config, run_runner, write_config

from runners.train.loop import _fingerprint, run


class _Payload:
    """Unpickling this creates a file: the proof that a pickle ran code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_checkpoint_that_would_run_code_is_refused(tmp_path, tokenizer_dir, shards):
    cfg = make_config(tmp_path / "out", tokenizer_dir, [("prose", shards["prose"], 1.0)], steps=4,
                      runtime={"checkpoint_every": 2})
    run(cfg)
    ckpt = tmp_path / "out/checkpoints"
    latest = ckpt / (ckpt / "latest").read_text().strip()
    marker = tmp_path / "pwned"
    trainer = torch.load(latest / "trainer_rank0.pt", weights_only=True)
    trainer["rng"]["extra"] = _Payload(str(marker))
    torch.save(trainer, latest / "trainer_rank0.pt")
    r = run_runner(write_config(cfg, tmp_path / "again.json"))  # same inputs: resumes from the last checkpoint
    assert r.returncode == 1 and "refused to load" in r.stderr and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not marker.exists()


def test_resume_fingerprint_covers_token_content(tmp_path, tokenizer_dir, shards):
    copy = tmp_path / "prose"
    shutil.copytree(shards["prose"], copy)
    cfg = make_config(tmp_path / "out", tokenizer_dir, [("prose", copy, 1.0)])
    before = _fingerprint(cfg)
    meta = (copy / "meta.json").read_text()
    tokens = np.fromfile(copy / "tokens.bin", dtype="<u2")
    tokens[5] = (tokens[5] + 1) % 300  # another token, same count, same document ids
    tokens.tofile(copy / "tokens.bin")
    assert (copy / "meta.json").read_text() == meta and json.loads(meta)["n_tokens"] == len(tokens)
    assert _fingerprint(cfg) != before


def test_hf_export_does_not_depend_on_the_environment(tmp_path, tokenizer_dir, shards, monkeypatch):
    """HF_HUB_OFFLINE used to leak into the export's tokenizer_config.json (local_files_only)."""
    outs = []
    for offline in ("0", "1"):
        monkeypatch.setenv("HF_HUB_OFFLINE", offline)
        cfg = make_config(tmp_path / f"out{offline}", tokenizer_dir, [("prose", shards["prose"], 1.0)], steps=2)
        run(cfg)
        outs.append((tmp_path / f"out{offline}/hf/tokenizer_config.json").read_text())
    assert outs[0] == outs[1] and "local_files_only" not in outs[0]
