"""`python -m runners.train --config FILE`: read a TrainConfig JSON and run the stage.

With more than one process in `runtime` this re-executes itself under torchrun first (see
`runners.train.launch`). A config that does not validate is reported in one line, without traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from olmospec.ir.train import TrainConfig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m runners.train", description=__doc__.splitlines()[0])
    ap.add_argument("--config", required=True, help="a TrainConfig JSON file written by olmospec compile")
    args = ap.parse_args(argv)
    try:
        config = TrainConfig.model_validate_json(Path(args.config).read_text())
    except (OSError, ValidationError) as e:
        print(f"runners.train: bad config {args.config}: {e}", file=sys.stderr)
        return 2
    from runners.train.errors import StageError
    from runners.train.launch import maybe_reexec
    from runners.train.loop import run

    maybe_reexec(config.runtime, args.config)
    try:
        run(config)
    except StageError as e:
        print(f"runners.train: {args.config}: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
