"""The one error type a stage reports without a traceback: bad config or bad input, not a bug.

`python -m runners.train` prints `StageError`s as one line (file, field, reason) and exits with 2;
anything else is a bug and keeps its traceback.
"""


class StageError(ValueError):
    """A config or input this runner cannot use; the message names the field or the file."""
