"""Stage identity: the hash of a stage's semantic configuration and its upstream identities.

Canonical JSON (sorted keys, no whitespace, floats as `repr`) makes the hash independent of
comments, whitespace, key order and block order in the spec. Runtime settings (GPU counts,
launcher, micro-batch) are never passed in, so moving a run to a cluster keeps every identity.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def stage_hash(kind: str, config: dict[str, Any], upstream: list[str]) -> str:
    payload = canonical_json({"kind": kind, "config": config, "upstream": sorted(upstream)})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def readable(label: str) -> str:
    """DVC stage names allow letters, digits, '-' and '_' only."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", label).strip("_") or "stage"


def stage_id(label: str, digest: str) -> str:
    return f"{readable(label)}-{digest[:8]}"
