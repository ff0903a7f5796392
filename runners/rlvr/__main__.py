"""`python -m runners.rlvr --config FILE`: read an RlvrConfig (stage config + runtime file) and run
the stage; with several processes in `runtime` it re-executes itself under torchrun first."""

from __future__ import annotations

import argparse
import os
import sys

# NOTE: before torch is imported: OpenMP threads that spin while waiting make a shared, busy CPU
# ~20x slower for this model size (measured: one generate 118 s spinning, 6.5 s passive); idle
# threads that sleep cost little on a quiet machine. An explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runners.rlvr", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="the stage config written by `olmospec compile`")
    args = ap.parse_args(argv)
    from olmospec.ir.rlvr import RlvrConfig
    from olmospec.stage_io import read_stage_config

    try:
        config = RlvrConfig.model_validate(read_stage_config(args.config))
    except (OSError, ValueError, ValidationError) as e:
        print(f"error: runners.rlvr: bad config {args.config}: {e}", file=sys.stderr)
        return 1
    from runners.train.errors import StageError
    from runners.train.launch import maybe_reexec

    maybe_reexec(config.runtime, args.config, module="runners.rlvr")
    from runners.rlvr.stage import run

    try:
        run(config)
    except StageError as e:
        print(f"error: runners.rlvr {config.stage_id}: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
