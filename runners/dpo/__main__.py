"""`python -m runners.dpo --config stages/<id>.json`: run a DPO stage (runners/dpo/stage.py).

The config is read through the runner convention (`runners.stage_main`: the stage config merged with
its runtime file), validated as a `DpoConfig`; with several processes it re-executes itself under
torchrun, exactly as the training runner does (it is the training runner with the DPO train step).
"""

from __future__ import annotations

import sys

from olmospec.ir.dpo import DpoConfig


def _launch(config: DpoConfig, path: str) -> None:
    from runners.train.launch import maybe_reexec

    maybe_reexec(config.runtime, path, config.stage_id, config.output, module="runners.dpo")


def _run(config: DpoConfig) -> dict:
    from runners.dpo.stage import DpoStage
    from runners.train.loop import run

    return run(config, DpoStage)


def main(argv: list[str] | None = None) -> None:
    from runners.stage_main import StageFailure, stage_main

    stage_main("dpo", __doc__, _run, argv, config_type=DpoConfig, launch=_launch, receipt=False,
               user_errors=(StageFailure, OSError))


if __name__ == "__main__":
    main()
    sys.exit(0)
