"""Process launch: re-execute under torchrun when the runtime asks for several processes or nodes,
write the Slurm job when the launcher is Slurm, then set up the process group and the device.

`python -m runners.train --config F` is the one command DVC runs. With `nproc_per_node > 1` or
`nnodes > 1` it replaces itself (`os.execv`) with `python -m torch.distributed.run ... -m
runners.train --config F`, so the stage's `cmd` never mentions the cluster shape (which is runtime,
not identity).

- `launcher = torchrun` (the default): one node runs standalone; a multi-node stage takes its
  rendezvous from the environment, as schedulers set it (MASTER_ADDR, MASTER_PORT, NODE_RANK), and
  refuses to start without MASTER_ADDR, so several nodes can never run the stage as independent
  single-process jobs that overwrite each other's outputs.
- `launcher = slurm`: outside an allocation the runner writes `runs/<id>/slurm.sbatch` (one
  `srun` task per node, each starting torchrun for its GPUs, then `dvc commit` of the stage on the
  batch host) and stops with the `sbatch` command to submit it, so `dvc repro` records nothing
  until the job has really run. Inside the allocation (SLURM_JOB_ID set) the node rank and node
  count come from Slurm and must match the stage's runtime.

Only global rank 0 writes `hf/`, `metrics.json`, `plots/` and `receipt.json`; the other ranks write
their own checkpoint shards and nothing else.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from olmospec.ir.train import TrainRuntime
from runners.allocator import keep_freed_memory
from runners.train.errors import StageError


def inside_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def _node_rendezvous(runtime: TrainRuntime, env: dict[str, str]) -> tuple[str, str, str]:
    """(node rank, master address, master port) of this node in a multi-node stage."""
    if runtime.launcher == "slurm":
        nnodes = int(env.get("SLURM_NNODES", "1"))
        if nnodes != runtime.nnodes:
            raise StageError(f"the Slurm allocation has {nnodes} node(s); runtime.nodes = {runtime.nnodes}")
        rank = env.get("SLURM_NODEID", "0")
    else:
        rank = env.get("NODE_RANK", "0")
    if "MASTER_ADDR" not in env:
        raise StageError(f"runtime.nodes = {runtime.nnodes} needs MASTER_ADDR (and NODE_RANK) in the environment: "
                         "without a rendezvous every node would train alone and overwrite the same outputs")
    return rank, env["MASTER_ADDR"], env.get("MASTER_PORT", "29500")


def torchrun_argv(runtime: TrainRuntime, config_path: str, env: dict[str, str],
                  module: str = "runners.train") -> list[str]:
    """The command that runs `module` (this runner, or a stage kind built on it such as
    runners.dpo or runners.rlvr) under torchrun with the runtime's process counts."""
    argv = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={runtime.nproc_per_node}"]
    if runtime.nnodes == 1:
        argv.append("--standalone")
    else:
        rank, addr, port = _node_rendezvous(runtime, env)
        argv += [f"--nnodes={runtime.nnodes}", f"--node_rank={rank}", f"--master_addr={addr}",
                 f"--master_port={port}"]
    return argv + ["-m", module, "--config", config_path]


def sbatch_script(runtime: TrainRuntime, config_path: str, stage_id: str, root: Path,
                  module: str = "runners.train") -> str:
    """The Slurm job of a stage: every node runs the stage's own command (which starts torchrun for
    that node), then the batch host records the outputs in dvc.lock."""
    cfg = Path(config_path)
    dvc_yaml = cfg.parent.parent / "dvc.yaml"  # the compiler writes <out>/stages/<id>.json beside <out>/dvc.yaml
    target = stage_id if str(dvc_yaml) in ("dvc.yaml", "./dvc.yaml") else f"{dvc_yaml}:{stage_id}"
    gpus = f"#SBATCH --gpus-per-node={runtime.nproc_per_node}\n" if runtime.device != "cpu" else ""
    python = shlex.quote(sys.executable)
    dvc = shlex.quote(str(Path(sys.executable).with_name("dvc")))
    run = f"NODE_RANK=$SLURM_NODEID exec {python} -m {module} --config {shlex.quote(config_path)}"
    return (
        "#!/bin/bash\n"
        f"# Written by `python -m {module} --config {config_path}` (launcher = slurm). Submit: sbatch THIS_FILE\n"
        f"#SBATCH --job-name={stage_id}\n"
        f"#SBATCH --nodes={runtime.nnodes}\n"
        "#SBATCH --ntasks-per-node=1\n"
        f"{gpus}"
        f"#SBATCH --output=runs/{stage_id}/slurm-%j.out\n"
        "set -euo pipefail\n"
        f"cd {shlex.quote(str(root))}\n"
        'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)\n'
        "export MASTER_PORT=${MASTER_PORT:-29500}\n"
        f"srun --kill-on-bad-exit=1 bash -c {shlex.quote(run)}\n"
        "# the batch host is node 0 (global rank 0 wrote the outputs): record them once\n"
        f"{dvc} commit --force {shlex.quote(target)}\n"
    )


def maybe_reexec(runtime: TrainRuntime, config_path: str, stage_id: str = "", output: str = "",
                 module: str = "runners.train") -> None:
    """Replace this process by torchrun when more than one process is wanted; write the Slurm job
    and stop when the launcher is Slurm and this is not a Slurm job; otherwise return."""
    if inside_torchrun():
        return
    if runtime.launcher == "slurm" and "SLURM_JOB_ID" not in os.environ:
        out = Path(output or f"runs/{stage_id}")
        out.mkdir(parents=True, exist_ok=True)
        script = out / "slurm.sbatch"
        tmp = script.with_name(script.name + ".tmp")
        tmp.write_text(sbatch_script(runtime, config_path, stage_id, Path.cwd(), module))
        os.replace(tmp, script)
        raise StageError(f"launcher = slurm: this stage runs as a Slurm job of {runtime.nnodes} node(s). "
                         f"Submit it with `sbatch {script}`; the job records its outputs with `dvc commit`")
    if runtime.nproc_per_node == 1 and runtime.nnodes == 1:
        return
    argv = torchrun_argv(runtime, config_path, dict(os.environ), module)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)


@dataclass(frozen=True, slots=True)
class Dist:
    """Where this process stands: rank, world size, device, and whether a process group is up."""

    rank: int
    world: int
    device: torch.device
    initialized: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(runtime: TrainRuntime) -> Dist:
    """Pick the device and start the process group (gloo on CPU, NCCL on CUDA).

    A process group is started whenever there are several processes, and also for one process on
    CUDA, because FSDP2 is what gives bf16 compute with fp32 master weights and reductions. One CPU
    process runs the plain model: FSDP2 on one rank would only add hook overhead.
    """
    import torch.distributed as dist

    want = runtime.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    keep_freed_memory()
    if runtime.threads is not None:
        torch.set_num_threads(runtime.threads)
    rank = int(os.environ.get("RANK", "0"))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if want == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device("cpu")
    if world == 1 and device.type == "cpu":
        return Dist(rank=0, world=1, device=device, initialized=False)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if inside_torchrun():
        dist.init_process_group(backend, device_id=device if device.type == "cuda" else None)
    else:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    return Dist(rank=rank, world=world, device=device, initialized=True)


def teardown(d: Dist) -> None:
    import torch.distributed as dist

    if d.initialized and dist.is_initialized():
        dist.destroy_process_group()
