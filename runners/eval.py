"""The `eval` stage: lm-eval on a stage's HF export (tasks, RULER), summarized in metrics.json.

    python -m runners.eval --config stages/eval-<name>-<stage>-<hash>.json

The work is in `evals.stage` (see its docstring for the outputs); this is the runner convention's
thin main: stage config + runtime file in, receipt out, user errors as one line and exit status 1.
"""

from __future__ import annotations

import os
from typing import Any

from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from evals.stage import run as run_eval

    return run_eval(cfg)


def main(argv: list[str] | None = None) -> None:
    # NOTE: OpenMP threads that wait by spinning burn a core each between the tiny model's ops, and on
    # shared cores they slow every process (one chat eval: 62 s of CPU spinning, 11 s passive, same
    # scores). libgomp reads this once, when torch loads, so it is set before anything imports torch.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    stage_main("eval", __doc__, run, argv)


if __name__ == "__main__":
    main()
