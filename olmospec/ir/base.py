"""The base class of every IR object: frozen, typed, no unknown fields.

Frozen so that a config passed to a runner cannot be changed on the way; `extra="forbid"` so that a
misspelled field is an error, never silently ignored.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
