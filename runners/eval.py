"""The `eval` stage: lm-eval on a stage's HF export (tasks, RULER), summarized in metrics.json.

    python -m runners.eval --config stages/eval-<name>-<stage>-<hash>.json

The work is in `evals.stage` (see its docstring for the outputs); this is the runner convention's
thin main: stage config + runtime file in, receipt out, user errors as one line and exit status 1.
"""

from __future__ import annotations

from typing import Any

from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from evals.stage import run as run_eval

    return run_eval(cfg)


def main(argv: list[str] | None = None) -> None:
    stage_main("eval", __doc__, run, argv)


if __name__ == "__main__":
    main()
