"""`python -m runners.rlvr --config stages/<id>.json`: run one RLVR stage.

The config is read through the runner convention (`runners.stage_main`): the stage config merged
with its runtime file, validated as an `RlvrConfig`. With more than one process in the runtime this
re-executes itself under torchrun first (`runners.train.launch`), as training stages do.
"""

from __future__ import annotations

import os
import sys

# NOTE: before torch is imported: OpenMP threads that spin while waiting make a shared, busy CPU
# ~20x slower for this model size (measured: one generate 118 s spinning, 6.5 s passive); idle
# threads that sleep cost little on a quiet machine. An explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from olmospec.ir.rlvr import RlvrConfig


def _launch(config: RlvrConfig, path: str) -> None:
    from runners.train.launch import maybe_reexec

    maybe_reexec(config.runtime, path, config.stage_id, config.output, module="runners.rlvr")


def _run(config: RlvrConfig) -> dict:
    from runners.rlvr.stage import run

    return run(config)


def main(argv: list[str] | None = None) -> None:
    from runners.stage_main import StageFailure, stage_main

    # NOTE: as for training: a ValueError from inside torch is a bug, not bad input
    stage_main("rlvr", __doc__, _run, argv, config_type=RlvrConfig, launch=_launch, receipt=False,
               user_errors=(StageFailure, OSError))


if __name__ == "__main__":
    main()
    sys.exit(0)
