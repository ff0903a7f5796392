"""`python -m runners.train --config stages/<id>.json`: run one pretrain, midtrain, longctx or sft stage.

The config is read through the runner convention (`runners.stage_main`): the stage config merged with
its runtime file, validated as a `TrainConfig`. With more than one process in the runtime this
re-executes itself under torchrun first (`runners.train.launch`), so every rank reads the same files.
"""

from __future__ import annotations

import sys

from olmospec.ir.train import TrainConfig


def _launch(config: TrainConfig, path: str) -> None:
    from runners.train.launch import maybe_reexec

    maybe_reexec(config.runtime, path, config.stage_id, config.output)


def _run(config: TrainConfig) -> dict:
    from runners.train.loop import run

    return run(config)


def main(argv: list[str] | None = None) -> None:
    from runners.stage_main import StageFailure, stage_main

    # NOTE: a ValueError from deep inside torch is a bug, not bad input: only StageError (a
    # StageFailure) and OS errors (a missing file) are reported as one line.
    stage_main("train", __doc__, _run, argv, config_type=TrainConfig, launch=_launch, receipt=False,
               user_errors=(StageFailure, OSError))


if __name__ == "__main__":
    main()
    sys.exit(0)
