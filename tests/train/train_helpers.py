"""Helpers for the training runner's tests: a tokenizer trained in-process, token shards written with
numpy in the CONTRACTS.md format, a tiny-model config, and running the runner as a real subprocess
(`python -m runners.train --config F`). Fixtures built from these live in conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from olmospec.ir.model import ModelConfig
from olmospec.ir.train import DataComponent, OptimizerConfig, ScheduleConfig, TrainConfig, TrainRuntime

REPO = Path(__file__).resolve().parents[2]

TEXTS = [
    "the cat sat on the mat and the dog sat on the log.",
    "one two three four five six seven eight nine ten.",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z.",
    "what is 12 + 30? it is 42. what is 7 + 8? it is 15.",
] * 3


def build_tokenizer(folder: Path) -> Path:
    """A byte-level BPE tokenizer (about 300 tokens) with <pad> and <|endoftext|>, saved like any HF one."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<pad>", "<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TEXTS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<pad>")
    fast.save_pretrained(folder)
    return folder


def write_shard(
    folder: Path, docs: list[list[int]], eos_id: int, vocab_size: int, source: str = "test"
) -> Path:
    """A token shard as CONTRACTS.md defines it; each document gets its EOS appended."""
    folder.mkdir(parents=True, exist_ok=True)
    docs = [list(d) + [eos_id] for d in docs]
    tokens = np.array([t for d in docs for t in d], dtype="<u2")
    offsets = np.concatenate([[0], np.cumsum([len(d) for d in docs], dtype=np.int64)]).astype(np.int64)
    tokens.tofile(folder / "tokens.bin")
    np.save(folder / "offsets.npy", offsets)
    meta = {
        "dtype": "uint16",
        "vocab_size": vocab_size,
        "eos_id": eos_id,
        "pad_id": 0,
        "n_docs": len(docs),
        "n_tokens": len(tokens),
        "doc_ids_sha256": "0" * 64,
        "source": source,
    }
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def tiny_model(**kw) -> ModelConfig:
    base = {
        "name": "tiny",
        "d_model": 64,
        "n_layers": 2,
        "n_heads": 4,
        "n_kv_heads": 2,
        "mlp_hidden": 128,
        "vocab_size": 300,
        "vocab_pad_to": 64,
        "attention_pattern": (16, None),
        "rope_theta": 10000.0,
    }
    return ModelConfig(**{**base, **kw})


def make_config(out: Path, tokenizer_dir: Path, data: list[tuple[str, Path, float]], **kw) -> TrainConfig:
    runtime = kw.pop("runtime", {})
    rt = {"device": "cpu", "threads": 1, "checkpoint_every": 100, "log_every": 1, **runtime}
    base = {
        "stage_id": "pretrain-test",
        "kind": "pretrain",
        "model": tiny_model(),
        "tokenizer": str(tokenizer_dir),
        "data": tuple(DataComponent(name=n, path=str(p), share=s) for n, p, s in data),
        "seq_len": 32,
        "batch_seqs": 8,
        "steps": 6,
        "optimizer": OptimizerConfig(lr=3e-3, z_loss=1e-4),
        "schedule": ScheduleConfig(kind="cosine", warmup_steps=2),
        "seed": 3,
        "output": str(out),
        "runtime": TrainRuntime(**rt),
    }
    return TrainConfig(**{**base, **kw})


def write_config(cfg: TrainConfig, path: Path) -> Path:
    path.write_text(cfg.model_dump_json(indent=2))
    return path


def runner_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p)
    return env


def run_runner(config_path: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "runners.train", "--config", str(config_path)],
        check=False,
        cwd=REPO,
        env=runner_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def losses(out: Path) -> list[float]:
    import csv

    with (out / "plots" / "train.csv").open() as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]
