"""The thin `main()` every curation-side runner shares: read the stage config, run, write the
receipt; a user-facing failure (missing input, impossible mix) is one line on stderr and exit 1."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from olmospec.stage_io import read_stage_config
from runners.common import write_receipt


class StageFailure(Exception):
    """Raised by a runner's `run` for a problem the user must fix (named, without a traceback)."""


def stage_main(prog: str, doc: str, run: Callable[[dict[str, Any]], dict[str, Any]],
               argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog=f"python -m runners.{prog}", description=doc.strip().splitlines()[0])
    ap.add_argument("--config", required=True, help="the stage config written by `olmospec compile`")
    args = ap.parse_args(argv)
    started = time.time()
    try:
        cfg = read_stage_config(args.config)
    except (OSError, ValueError) as e:
        from runners.common import fail

        fail(f"cannot read stage config {args.config}: {e}")
    from runners.curation.mixing import MixError
    from runners.inputs import InputError

    try:
        result = run(cfg)
    except (StageFailure, InputError, MixError, OSError, ValueError) as e:  # named, no traceback
        from runners.common import fail

        fail(f"{prog} {cfg.get('stage_id')}: {e}")
    write_receipt(Path(cfg["output"]), cfg, started=started, inputs=result.get("inputs"), seed=cfg.get("seed"))
