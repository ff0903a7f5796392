"""Sharded checkpoints (torch.distributed.checkpoint) written atomically, and the final HF export.

Layout under `<output>/checkpoints/`:

    step_00000100/   DCP files (model + optimizer, sharded as trained) and trainer_rank<r>.pt
                     (step, sampler state, RNG state of rank r)
    latest           the name of the newest complete checkpoint

A checkpoint is written to `step_N.tmp/` and renamed only when every rank has finished, and `latest`
is replaced atomically after that, so a process killed at any moment leaves either the previous
checkpoint or the new one, never a half-written one that `latest` names. DCP reshards on load, so
a run may resume on a different number of ranks.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import warnings
from pathlib import Path

import torch
from torch import nn

from runners.train.errors import StageError
from runners.train.launch import Dist

KEEP = 2  # complete checkpoints kept on disk; older ones are deleted after a new one lands


def _quiet_single_process(d: Dist) -> None:
    """DCP warns on every call that it assumes one process when no process group is up; here that
    is the intent (one CPU process), so the warning is noise."""
    if not d.initialized:
        warnings.filterwarnings("ignore", message="torch.distributed is disabled", category=UserWarning)


def _barrier(d: Dist) -> None:
    if d.initialized:
        import torch.distributed as dist

        dist.barrier()


class _AppState:
    """Model and optimizer as one DCP `Stateful`, so DCP reshards both on load."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer

    def state_dict(self) -> dict:
        from torch.distributed.checkpoint.state_dict import get_state_dict

        msd, osd = get_state_dict(self.model, self.optimizer)
        return {"model": msd, "optim": osd}

    def load_state_dict(self, state: dict) -> None:
        from torch.distributed.checkpoint.state_dict import set_state_dict

        set_state_dict(
            self.model, self.optimizer, model_state_dict=state["model"], optim_state_dict=state["optim"]
        )


def _rng_state() -> dict:
    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Checkpointer:
    def __init__(self, folder: str | Path, d: Dist):
        self.folder, self.d = Path(folder), d
        _quiet_single_process(d)

    def latest(self) -> Path | None:
        """The checkpoint `latest` names; failing that, the newest complete one (a `step_N` folder
        exists only once complete, since it is renamed from `step_N.tmp` at the very end)."""
        pointer = self.folder / "latest"
        if pointer.exists():
            path = self.folder / pointer.read_text().strip()
            if path.is_dir():
                return path
        done = sorted(p for p in self.folder.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
        return done[-1] if done else None

    def save(self, step: int, model: nn.Module, optimizer: torch.optim.Optimizer, trainer: dict) -> Path:
        import torch.distributed.checkpoint as dcp

        final = self.folder / f"step_{step:08d}"
        tmp = self.folder / f"step_{step:08d}.tmp"
        if self.d.is_main:
            shutil.rmtree(tmp, ignore_errors=True)  # left by a run killed while saving
            tmp.mkdir(parents=True)
        _barrier(self.d)
        dcp.save({"app": _AppState(model, optimizer)}, checkpoint_id=str(tmp))
        torch.save({**trainer, "step": step, "rng": _rng_state()}, tmp / f"trainer_rank{self.d.rank}.pt")
        _barrier(self.d)
        if self.d.is_main:
            shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
            pointer = self.folder / "latest.tmp"
            pointer.write_text(final.name + "\n")
            os.replace(pointer, self.folder / "latest")
            with (self.folder / "saved_steps.txt").open("a") as log:  # which steps were checkpointed
                log.write(f"{step}\n")
            done = sorted(p for p in self.folder.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp"))
            for old in done[:-KEEP]:
                shutil.rmtree(old, ignore_errors=True)
        _barrier(self.d)
        return final

    def saved_steps(self) -> list[int]:
        """Every step a checkpoint was written at, across resumes of the same run."""
        log = self.folder / "saved_steps.txt"
        return [int(x) for x in log.read_text().split()] if log.exists() else []

    def load(self, path: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
        """Restore model, optimizer and RNG in place; returns the trainer state (step, sampler)."""
        import torch.distributed.checkpoint as dcp

        dcp.load({"app": _AppState(model, optimizer)}, checkpoint_id=str(path))
        mine = path / f"trainer_rank{self.d.rank}.pt"
        # weights_only: the trainer state is tensors, numbers and lists; nothing in it may run code
        file = mine if mine.exists() else path / "trainer_rank0.pt"
        try:
            trainer = torch.load(file, weights_only=True)
        except pickle.UnpicklingError as e:
            raise StageError(f"{file}: refused to load: it holds more than tensors, numbers and lists "
                             f"({str(e).splitlines()[0]}); delete the checkpoint folder to start over") from None
        _set_rng_state(trainer.pop("rng"))
        return trainer


def discard_if_foreign(folder: str | Path, fingerprint: dict, d: Dist) -> None:
    """Keep `folder`'s checkpoints only if they were made from the same inputs (`fingerprint.json`);
    otherwise delete them, so that the stage starts over instead of resuming someone else's run."""
    folder = Path(folder)
    stamp = folder / "fingerprint.json"
    if d.is_main:
        old = json.loads(stamp.read_text()) if stamp.exists() else None
        if old != fingerprint:
            if any(folder.glob("step_*")):
                print(f"{folder}: checkpoints were made from other inputs; starting over", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True, exist_ok=True)
            tmp = folder / "fingerprint.json.tmp"
            tmp.write_text(json.dumps(fingerprint, sort_keys=True))
            os.replace(tmp, stamp)
    _barrier(d)


def export_hf(model: nn.Module, d: Dist, folder: str | Path, tokenizer) -> None:
    """Gather the full weights to rank 0 (CPU) and write `save_pretrained` + the tokenizer, atomically,
    so `AutoModelForCausalLM.from_pretrained(folder)` loads the stage's final model directly."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
    from transformers import AutoModelForCausalLM

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if d.is_main:
        folder = Path(folder)
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        with torch.device("meta"):
            out = AutoModelForCausalLM.from_config(model.config)
        out.load_state_dict({k: v.detach().cpu() for k, v in full.items()}, assign=True, strict=True)
        out.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(tmp, folder)
    _barrier(d)
