"""Where a stage's documents come from: a source's files (a path or glob), an HF dataset, or an
upstream stage's `docs/` folder; expanded to a stable, sorted list of shards."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from runners.curation.io import list_shards


class InputError(Exception):
    """A source that cannot be read: named, with what was looked for."""


def shards_of(cfg: dict[str, Any]) -> list[str]:
    kind = cfg.get("kind")
    if kind == "union":
        return [s for part in cfg["parts"] for s in shards_of(part)]
    if kind == "docs":
        return list_shards([cfg["path"]])
    if kind != "source":
        raise InputError(f"unknown input kind {kind!r}")
    if cfg.get("dataset"):
        p = Path(cfg["dataset"])
        if p.exists():
            return [str(p)]
        raise InputError(
            f"source '{cfg['name']}': dataset '{cfg['dataset']}' is not a local folder; hub datasets are read "
            "by the HF `datasets` cache (run with network access once, or `save_to_disk` it and give its path)"
        )
    pattern = cfg["path"]
    matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
    matches = [m for m in matches if Path(m).exists()]
    if not matches:
        raise InputError(f"source '{cfg['name']}': no files match '{pattern}'")
    try:
        return list_shards(matches)
    except (ValueError, FileNotFoundError) as e:
        raise InputError(f"source '{cfg['name']}': {e}") from None


def fields_of(cfg: dict[str, Any]) -> tuple[str, str]:
    """(text field, id field) of an input; upstream stage outputs always use text/id."""
    if cfg.get("kind") == "source":
        return cfg.get("text", "text"), cfg.get("id", "id")
    return "text", "id"
