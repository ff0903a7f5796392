"""HF datasets as inputs: a `save_to_disk` folder (one split, or a DatasetDict and the spec's `split`),
or a hub id read from the local `datasets` cache (the hub itself is never contacted when
HF_DATASETS_OFFLINE is set, as the project's commands set it).

A hub dataset has no path on disk, so it travels between the input listing and the record reader
as the pseudo-shard `hf-dataset:<id>:<split>` (`hub_shard`); a local DatasetDict folder becomes
its split's own folder, which is a plain dataset folder, so every reader treats both alike.

    shard = dataset_shard("data/chats_saved", "train")   # or an id such as "allenai/tulu-3-sft-mixture"
    for row in open_dataset(shard): ...
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HUB_PREFIX = "hf-dataset:"


def is_saved_dataset(path: str | Path) -> bool:
    """A folder written by `Dataset.save_to_disk` (it holds `state.json`)."""
    return Path(path, "state.json").is_file()


def is_saved_dataset_dict(path: str | Path) -> bool:
    """A folder written by `DatasetDict.save_to_disk` (it holds `dataset_dict.json`)."""
    return Path(path, "dataset_dict.json").is_file()


def dataset_shard(name_or_path: str, split: str) -> str:
    """The shard to read for a source's `dataset = ...` and `split = ...`.

    A local Dataset folder is read whole (its split is whatever was saved); a DatasetDict folder
    gives the folder of `split`, with the available splits named if it is missing; anything else
    is taken as a hub id in the local cache.
    """
    p = Path(name_or_path)
    if p.is_dir():
        if is_saved_dataset(p):
            return str(p)
        if is_saved_dataset_dict(p):
            splits = json.loads((p / "dataset_dict.json").read_text()).get("splits", [])
            if split not in splits:
                raise ValueError(f"dataset {p}: no split '{split}' (it has {', '.join(splits) or 'none'})")
            return str(p / split)
        raise ValueError(f"dataset {p}: a folder, but not one written by `datasets` save_to_disk")
    return f"{HUB_PREFIX}{name_or_path}:{split}"


def open_dataset(shard: str | Path) -> Any:
    """The `datasets.Dataset` behind a shard from `dataset_shard` (imported here: datasets is heavy)."""
    import datasets

    s = str(shard)
    if not s.startswith(HUB_PREFIX):
        ds = datasets.load_from_disk(s)
        if isinstance(ds, datasets.DatasetDict):
            raise ValueError(f"{s}: a DatasetDict; name one split (source `split = ...`)")
        return ds
    name, _, split = s[len(HUB_PREFIX):].rpartition(":")
    try:
        return datasets.load_dataset(name, split=split)
    except (OSError, ValueError) as e:  # offline: ConnectionError; not cached: DatasetNotFoundError
        raise ValueError(
            f"dataset '{name}' (split '{split}') cannot be read from the local HF cache: {type(e).__name__}: "
            f"{str(e).splitlines()[0] if str(e) else ''}. Download it once with network access, or "
            "`save_to_disk` it and give its folder as `dataset = \"...\"`"
        ) from None


def dataset_files(shard: str | Path) -> list[Path]:
    """The files holding a shard's data (for fingerprints): a saved folder's files, or the cache's."""
    s = str(shard)
    if not s.startswith(HUB_PREFIX):
        return sorted(f for f in Path(s).rglob("*") if f.is_file())
    return sorted(Path(c["filename"]) for c in open_dataset(s).cache_files)
