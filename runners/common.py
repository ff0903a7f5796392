"""What every runner shares: reading its config, atomic writes, and the provenance receipt.

`receipt.json` records what produced a stage's outputs (stage id, config hash, input hashes, code
version, library versions, seed, host, wall time, throughput); reports are built only from receipts
and metrics, so every number in a table can be traced back.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from olmospec.identity import canonical_json

LIBRARIES = ("olmospec", "torch", "transformers", "tokenizers", "numpy", "pyarrow", "dvc", "lm_eval", "ray")


def write_json(path: str | Path, obj: Any) -> None:
    """Write JSON atomically: a reader never sees a half-written file."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while b := f.read(chunk):
            h.update(b)
    return h.hexdigest()


def config_hash(cfg: dict[str, Any]) -> str:
    semantic = {k: v for k, v in cfg.items() if k != "runtime"}
    return hashlib.sha256(canonical_json(semantic).encode()).hexdigest()


def code_version() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, check=False)
        rev = out.stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "olmospec", "runners", "evals"],
                               capture_output=True, text=True, timeout=5, check=False).stdout.strip()
        return (rev + ("-dirty" if dirty else "")) if rev else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def library_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            out[lib] = metadata.version(lib.replace("_", "-"))
        except metadata.PackageNotFoundError:
            pass
    return out


def cpu() -> str:
    """The processor, as the receipt records it: its model name and, where torch is loaded, the
    instruction set torch's CPU kernels use ("AVX512", "AVX2"). Why: a CPU run's weights are
    reproducible bit for bit on the same kind of processor, not across kinds (MKL and torch pick
    kernels, hence summation orders, by processor), so a result names the one it came from."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    model = model or platform.processor() or platform.machine()
    torch = sys.modules.get("torch")
    isa = torch.backends.cpu.get_cpu_capability() if torch is not None and hasattr(torch, "backends") else ""
    return f"{model}, {os.cpu_count()} cores" + (f", {isa}" if isa else "")


def write_receipt(out_dir: str | Path, cfg: dict[str, Any], *, started: float, inputs: dict[str, str] | None = None,
                  seed: int | None = None, throughput: dict[str, float] | None = None) -> dict[str, Any]:
    receipt = {
        "stage_id": cfg.get("stage_id"),
        "config_hash": config_hash(cfg),
        "inputs": dict(sorted((inputs or {}).items())),
        "code_version": code_version(),
        "libraries": library_versions(),
        "seed": seed,
        "host": socket.gethostname(),
        "cpu": cpu(),
        "argv": sys.argv,
        "wall_seconds": round(time.time() - started, 3),
        "throughput": throughput or {},
    }
    write_json(Path(out_dir) / "receipt.json", receipt)
    return receipt


def fail(message: str) -> None:
    """A runner's user-facing error: one line on stderr, exit status 1, no traceback."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(1)
