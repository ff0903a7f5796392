"""Rehearse the GPU machine's run on a CPU: `run.sh --smoke` under an interpreter that sees only the
GPU image's packages (device_image.txt, linked from this environment) at the image's transformers and
huggingface-hub versions, plus the carried wheels built for this Python. It shows, before any device
time is spent, that the wheel list is complete and that the code runs on transformers 5.17.

    python benchmarks/gpu/rehearse.py        # ~3 minutes on 2 cores; downloads ~15 MB of wheels

What it cannot rehearse: torch 2.11 (this environment's torch is linked in), Python 3.12, CUDA-only
code paths (compile, NCCL, bf16 kernels). Work happens in a temporary copy of the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import wheels  # beside this script

# the image's versions (device_image.txt), and image packages these need that this environment lacks
IMAGE_PINS = ["transformers==5.17.0", "huggingface-hub==1.33.0", "httpx", "httpcore", "h11", "anyio"]


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", *args], check=True)


def image_venv(where: Path) -> Path:
    """A venv whose site-packages links the image's distributions installed here, with the image's pins."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    site = next(where.glob("lib/python*/site-packages"))
    _pip("install", "-q", "--no-deps", "--target", str(site), *IMAGE_PINS)
    image, pinned = wheels.device_image(), {wheels.norm(p.split("==")[0]) for p in IMAGE_PINS}
    for dist in metadata.distributions():
        if wheels.norm(dist.metadata["Name"]) not in image - pinned:
            continue
        for top in {f.parts[0] for f in dist.files or () if f.parts and f.parts[0] not in ("..", "bin")}:
            src, dst = Path(dist.locate_file(top)), site / top
            if src.exists() and not dst.exists():
                os.symlink(src, dst)
    return where / "bin" / "python"


def main() -> int:
    root = HERE.parents[1]
    tmp = Path(tempfile.mkdtemp(prefix="gpu-rehearsal-"))
    copy = tmp / "repo"
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=root,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for f in filter(None, files):
        if (root / f).is_file():
            (copy / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / f, copy / f)
    build = copy / "benchmarks/gpu/build"
    wheel_dir = build / "wheels"
    wheel_dir.mkdir(parents=True)
    plat = [a for p in wheels.PLATFORMS for a in ("--platform", p)]
    _pip("download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(wheel_dir), *plat, *wheels.pins())
    env = {**os.environ, "PYTHONPATH": str(copy), "DVC_NO_ANALYTICS": "1", "HF_HUB_OFFLINE": "1",
           "HF_DATASETS_OFFLINE": "1"}
    # compile and make the smoke's token shards here, where olmospec runs (prepare.py's part)
    subprocess.run([sys.executable, str(copy / "benchmarks/gpu/bench.py"), "--smoke", "--root", str(copy), "--only",
                    "train_1b", "--out", str(tmp / "prep")], cwd=copy, env=env, check=True)
    (build / "runs").mkdir()
    python = image_venv(tmp / "image")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHON=str(python), OLMOSPEC_SITE=str(tmp / "site"), OUT=str(tmp / "out"))
    r = subprocess.run([str(copy / "benchmarks/gpu/run.sh"), "--smoke", "--pipeline",
                        "benchmarks/gpu/build/smoke-pipeline"], cwd=copy, env=env, check=False)
    print(f"rehearsal {'passed' if r.returncode == 0 else 'FAILED'}: results and logs in {tmp / 'out'}")
    return r.returncode


if __name__ == "__main__":
    sys.exit(main())
