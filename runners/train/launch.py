"""Process launch: re-execute under torchrun when the runtime asks for several processes, then set
up the process group and the device.

`python -m runners.train --config F` is the one command DVC runs. With `nproc_per_node > 1` or
`nnodes > 1` it replaces itself (`os.execv`) with `python -m torch.distributed.run ... -m
runners.train --config F`, so the stage's `cmd` never mentions the cluster shape (which is runtime,
not identity). Multi-node jobs take the rendezvous from the environment, as schedulers set it:
MASTER_ADDR, MASTER_PORT (default 29500) and NODE_RANK.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass

import torch

from olmospec.ir.train import TrainRuntime
from runners.train.errors import StageError


def inside_torchrun() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def torchrun_argv(runtime: TrainRuntime, config_path: str, env: dict[str, str],
                  module: str = "runners.train") -> list[str]:
    """The command that runs `module` (this runner, or another stage kind built on it) under torchrun
    with the runtime's process counts."""
    argv = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={runtime.nproc_per_node}"]
    if runtime.nnodes == 1:
        argv.append("--standalone")
    else:
        if "MASTER_ADDR" not in env:
            raise StageError("runtime.nnodes > 1 needs MASTER_ADDR (and NODE_RANK) in the environment")
        argv += [
            f"--nnodes={runtime.nnodes}",
            f"--node_rank={env.get('NODE_RANK', '0')}",
            f"--master_addr={env['MASTER_ADDR']}",
            f"--master_port={env.get('MASTER_PORT', '29500')}",
        ]
    return argv + ["-m", module, "--config", config_path]


def maybe_reexec(runtime: TrainRuntime, config_path: str, module: str = "runners.train") -> None:
    """Replace this process by torchrun when more than one process is wanted; otherwise return."""
    if inside_torchrun() or (runtime.nproc_per_node == 1 and runtime.nnodes == 1):
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
