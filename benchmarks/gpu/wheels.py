"""What the GPU machine lacks for the benchmark's code, brought as cp312 wheels.

The GPU machine's image (Python 3.12, torch 2.11, transformers 5.17; `device_image.txt` lists its
distributions) has no package registry and no pydantic, lm-eval or datasets. `download` fetches
the wheels of `CARRY`, at the versions installed here (the versions the test suite ran), for
CPython 3.12 on manylinux x86-64, with `pip download --no-deps --only-binary=:all:`; the device
side installs them with `pip install --no-index --no-deps --target`.

`unmet` is the check that keeps the list honest: given the imports that the device-side processes
(the training runner, the eval stage, the benchmark itself) made in a smoke run here, every
distribution they came from must be in the image, in `CARRY`, or in `NOT_NEEDED` (imported here only
because it is installed here: an optional import that the libraries skip when it is missing).
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent

CARRY = {
    "pydantic": "olmospec.ir: every runner validates its config with it",
    "pydantic-core": "pydantic's compiled core",
    "annotated-types": "pydantic",
    "typing-inspection": "pydantic",
    "typing-extensions": "pydantic needs >= 4.16; the image has it, at a version not listed",
    "lm-eval": "the eval stage",
    "datasets": "lm-eval, and the eval stage's local task loaders",
    "dill": "datasets",
    "multiprocess": "datasets",
    "orjson": "runners.curation.io, which the SFT reader uses for its JSON lines",
}
NOT_NEEDED = {
    "zstandard": "optional in fsspec/datasets (registers zstd compression if importable); the stages run there read no .zst",
    "pytz": "pandas 2.x here; the image's pandas carries its own time zones",
    "wcwidth": "optional in tabulate/rich",
    "httpx2": "optional in huggingface_hub here; offline on the GPU machine",
    "httpcore2": "httpx2",
    "truststore": "optional in pip/requests here",
    "pydot": "optional in torch's FX graph drawing",
    "chardet": "optional in requests (the image has charset-normalizer)",
    "boto3": "optional in accelerate (its SageMaker config), imported only where installed",
    "botocore": "boto3",
    "jmespath": "boto3",
    "s3transfer": "boto3",
}
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64",
             "manylinux1_x86_64")
DEVICE_PROCESSES = ("runners.train", "runners.eval", "bench.py")  # what runs on the GPU machine


def norm(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def device_image() -> set[str]:
    lines = (HERE / "device_image.txt").read_text().splitlines()
    return {norm(x) for x in lines if x.strip() and not x.startswith("#")}


def pins() -> list[str]:
    """`name==version` of every carried wheel, at the version installed here."""
    return [f"{name}=={metadata.version(name)}" for name in sorted(CARRY)]


def download(dest: Path) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version", "3.12",
           "--implementation", "cp", "-d", str(dest)]
    for p in PLATFORMS:
        cmd += ["--platform", p]
    subprocess.run(cmd + pins(), check=True)
    return sorted(dest.glob("*.whl"))


def _owners() -> dict[str, str]:
    """Installed file (resolved path) -> the distribution that installed it."""
    out = {}
    for dist in metadata.distributions():
        for f in dist.files or ():
            if f.suffix in (".py", ".so", ".pyd"):
                out[str(Path(dist.locate_file(f)).resolve())] = norm(dist.metadata["Name"])
    return out


def imported_distributions(audit_dir: Path, project_root: Path) -> dict[str, set[str]]:
    """distribution -> modules imported from it by the device-side processes of an audited run."""
    owners = _owners()
    root = str(project_root.resolve())
    out: dict[str, set[str]] = {}
    for f in sorted(Path(audit_dir).glob("*.json")):
        rec = json.loads(f.read_text())
        if not any(p in " ".join(rec["argv"]) for p in DEVICE_PROCESSES):
            continue
        for module, path in rec["modules"].items():
            if path is None:  # built-in or namespace package
                continue
            resolved = str(Path(path).resolve())
            if resolved.startswith((root, str(HERE))):
                continue
            dist = owners.get(resolved)
            if dist is not None:
                out.setdefault(dist, set()).add(module)
    return out


def unmet(audit_dir: Path, project_root: Path) -> dict[str, list[str]]:
    """Distributions the device-side code imported that the image lacks and nothing here accounts for."""
    known = device_image() | {norm(n) for n in CARRY} | {norm(n) for n in NOT_NEEDED} | {"olmospec"}
    return {d: sorted(m) for d, m in imported_distributions(audit_dir, project_root).items() if d not in known}
