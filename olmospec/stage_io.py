"""What a runner reads: its stage config, merged with the runtime file beside it (if any).

The config file (`stages/<id>.json`) is a DVC dependency and holds only semantic settings; the
runtime file (`stages/<id>.runtime.json`) is not, so a runner gets its process counts and device
from it without them ever triggering a rerun.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


def read_stage_config(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    cfg = json.loads(p.read_text(encoding="utf-8"))
    rt = p.with_name(p.name[: -len(".json")] + ".runtime.json") if p.name.endswith(".json") else None
    if rt is not None and rt.exists():
        cfg["runtime"] = json.loads(rt.read_text(encoding="utf-8"))
    return cfg


def load_stage_config(path: str | Path, model: type[T]) -> T:
    return model.model_validate(read_stage_config(path))
