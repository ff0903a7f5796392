"""The one error type a training stage reports without a traceback: bad config or bad input, not a bug.

`python -m runners.train` prints a `StageError` as one line (stage, field or file, reason) and exits
with status 1, like every runner (`runners.stage_main`); anything else is a bug and keeps its traceback.
"""

from runners.stage_main import StageFailure


class StageError(StageFailure, ValueError):
    """A config or input this runner cannot use; the message names the field or the file."""
