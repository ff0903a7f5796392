"""The one entry every runner goes through: `python -m runners.<kind> --config stages/<id>.json`.

`stage_main` reads the stage config merged with its runtime file (`olmospec.stage_io`: the
`stages/<id>.runtime.json` beside it, which holds process counts, device, threads and checkpoint
interval and is not a DVC dependency), validates it against the runner's config type if it has one,
lets the runner re-launch itself (torchrun) before any work, runs it, and writes the receipt. A
runner cannot forget the runtime file, because it never opens its config itself.

A user-facing failure (bad config, missing input, impossible mix) is one line on stderr and exit
status 1, without a traceback; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from olmospec.stage_io import read_stage_config
from runners.common import fail, write_receipt


class StageFailure(Exception):
    """Raised by a runner for a problem the user must fix (named, without a traceback)."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from runners.curation.mixing import MixError
    from runners.inputs import InputError

    return (StageFailure, InputError, MixError, OSError, ValueError)


def stage_main(prog: str, doc: str, run: Callable[[Any], dict[str, Any] | None], argv: list[str] | None = None, *,
               config_type: type | None = None, launch: Callable[[Any, str], None] | None = None,
               receipt: bool = True, user_errors: tuple[type[BaseException], ...] | None = None) -> None:
    """Read, validate, launch, run, record.

    config_type: a pydantic model the merged config must validate against (the runner then gets
    the model, else the dict). launch(config, path): called before `run`; may replace the process
    (e.g. by torchrun, which runs this same entry once per rank). receipt: False for runners that
    write a richer receipt themselves (and only on rank 0). user_errors: the exceptions reported as
    one line; the default suits the curation runners.
    """
    ap = argparse.ArgumentParser(prog=f"python -m runners.{prog}", description=doc.strip().splitlines()[0])
    ap.add_argument("--config", required=True, help="the stage config written by `olmospec compile`")
    args = ap.parse_args(argv)
    started = time.time()
    try:
        raw = read_stage_config(args.config)
    except (OSError, ValueError) as e:
        fail(f"{prog}: cannot read stage config {args.config}: {e}")
    cfg: Any = raw
    if config_type is not None:
        from pydantic import ValidationError

        try:
            cfg = config_type.model_validate(raw)
        except ValidationError as e:
            fail(f"{prog}: bad config {args.config}: {e}")
    errors = user_errors if user_errors is not None else _user_errors()
    stage_id = raw.get("stage_id")
    try:
        if launch is not None:
            launch(cfg, args.config)
        result = run(cfg) or {}
    except errors as e:  # named, no traceback
        fail(f"{prog} {stage_id}: {e}")
    if receipt:
        write_receipt(Path(raw["output"]), raw, started=started, inputs=result.get("inputs"), seed=raw.get("seed"),
                      throughput=result.get("throughput"))
