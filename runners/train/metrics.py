"""What a training stage reports: a per-step CSV (a DVC plot), metrics.json and receipt.json.

MFU is achieved model FLOP/s over the hardware's peak: FLOPs per token come from
`olmospec.arch.flops_per_token` (the planner's formula), peaks from the table below (bf16 dense,
per device). On a CPU, or on an unknown GPU, MFU is `None` rather than a guess.
"""

from __future__ import annotations

import csv
import hashlib
import json
import platform
import resource
import socket
import sys
from pathlib import Path

import torch

from olmospec.ir.train import TrainConfig
from runners.common import code_version, cpu

PEAK_BF16_FLOPS = {  # dense bf16 tensor-core FLOP/s per device, from the vendors' data sheets
    "H200": 989e12,
    "H100": 989e12,
    "A100": 312e12,
    "B200": 2250e12,
    "L40S": 362e12,
}

COLUMNS = ["step", "loss", "lr", "grad_norm", "tokens", "tokens_per_s", "mfu", "peak_mem_mb"]


def peak_flops(device: torch.device, dtype: torch.dtype) -> float | None:
    if device.type != "cuda" or dtype != torch.bfloat16:
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None)


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def config_hash(config: TrainConfig) -> str:
    """sha256 of the canonical config JSON without `runtime`, which is not part of a stage's identity."""
    canon = json.dumps(
        config.model_dump(mode="json", exclude={"runtime"}), sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canon.encode()).hexdigest()


class StepLog:
    """Rows of a per-step CSV (`plots/train.csv`). On resume, rows past the checkpoint's step are dropped first, so
    the file reads as one run; only rank 0 writes."""

    def __init__(self, path: Path, resume_step: int, enabled: bool, columns: list[str] = COLUMNS):
        self.path, self.enabled, self.columns = path, enabled, columns
        self.rows: list[dict] = []
        if not enabled:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step > 0 and path.exists():
            with path.open() as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["step"]) <= resume_step]
        with path.open("w", newline="") as f:
            w = csv.DictWriter(f, self.columns)
            w.writeheader()
            w.writerows(self.rows)

    def add(self, row: dict) -> None:
        if not self.enabled:
            return
        self.rows.append(row)
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.columns).writerow(row)


def _col(rows: list[dict], name: str) -> list[float]:
    return [float(r[name]) for r in rows if r.get(name) not in ("", None)]


def summarize(rows: list[dict]) -> dict:
    """metrics.json's figures from the CSV rows (the whole run, across resumes). Results only: the
    same spec and seed give the same file on the same machine, so timings live in the receipt."""
    if not rows:
        return {}
    losses = _col(rows, "loss")
    k = max(1, len(losses) // 10)  # single steps are noisy: also report the first and last tenth
    return {
        "first_loss": float(rows[0]["loss"]),
        "final_loss": float(rows[-1]["loss"]),
        "loss_first_tenth": sum(losses[:k]) / k,
        "loss_last_tenth": sum(losses[-k:]) / k,
        "steps": int(rows[-1]["step"]),
        "tokens": int(float(rows[-1]["tokens"])),
    }


def performance(rows: list[dict]) -> dict:
    """Throughput for the receipt: mean tokens/s and MFU over the steps, peak memory."""
    # NOTE: the first step of a process includes warm-up (allocation, compile): left out of the mean
    speeds = _col(rows, "tokens_per_s")[1:] or _col(rows, "tokens_per_s")
    mfus = _col(rows, "mfu")[1:] or _col(rows, "mfu")
    mem = _col(rows, "peak_mem_mb")
    return {
        "mean_tokens_per_s": sum(speeds) / len(speeds) if speeds else None,
        "mfu": (sum(mfus) / len(mfus)) if mfus else None,
        "peak_mem_mb": max(mem) if mem else None,
    }


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_hashes(config: TrainConfig) -> dict[str, str]:
    """Fingerprints of everything the stage reads: for token shards their content (meta.json, plus
    tokens.bin and offsets.npy unless meta.json carries their sha256), for SFT every record file,
    and the tokenizer's files. A resumed run is checked against them, so checkpoints made from
    other data (same ids and counts, other tokens) are never resumed."""
    out = {}
    for comp in config.data:
        for f in _data_files(config, comp):
            out[str(f)] = file_hash(f)
    for f in sorted(Path(config.tokenizer).glob("*.json")):
        out[str(f)] = file_hash(f)
    return out


def _data_files(config: TrainConfig, comp) -> list[Path]:
    if config.kind == "sft":
        from runners.hf_dataset import dataset_files
        from runners.inputs import shards_of
        from runners.train.sft import component_input

        files: list[Path] = []
        for shard in shards_of(component_input(comp)):
            is_dataset = Path(shard, "state.json").exists() or not Path(shard).exists()
            files += dataset_files(shard) if is_dataset else [Path(shard)]
        return files
    from runners.train.data import shard_folders

    files = []
    for folder in shard_folders(comp.path):
        files.append(folder / "meta.json")
        meta = json.loads((folder / "meta.json").read_text())
        if not {"tokens_sha256", "offsets_sha256"} <= set(meta):
            files += [folder / "tokens.bin", folder / "offsets.npy"]
    return files


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Rows as JSON lines, atomically (a reader never sees half a file)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n")
    tmp.replace(path)


def receipt(config: TrainConfig, *, wall_s: float, perf: dict, runtime: dict, checkpoint_steps: list[int],
            world: int, device: torch.device) -> dict:
    import numpy
    import transformers

    return {
        "stage_id": config.stage_id,
        "kind": config.kind,
        "config_hash": config_hash(config),
        "code_version": code_version(),
        "input_hashes": input_hashes(config),
        "seed": config.seed,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "numpy": numpy.__version__,
        },
        "host": socket.gethostname(),
        "cpu": cpu(),
        "platform": platform.platform(),
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "world_size": world,
        "wall_time_s": wall_s,
        "tokens_per_s": perf.get("mean_tokens_per_s"),
        "mfu": perf.get("mfu"),
        "throughput": perf,
        "runtime": runtime,  # as it took effect (Stage.effective_runtime)
        "checkpoint_steps": checkpoint_steps,
    }
