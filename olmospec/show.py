"""Resolved values back in spec units, for `olmospec diff`: 0.761 as `76.1%`, 5.93e12 tokens as
`5.93T`, ("seqs", 512) as `512 seqs`, None as `(unset)`. The unit is chosen by the field's name
(the last part of a flattened key such as `entries[web].share` or `runtime.throughput`)."""

from __future__ import annotations

import re
from typing import Any

PERCENT = {"share", "drop_below", "min_overlap", "rate", "spm", "final", "decay", "warmup_fraction"}
TOKENS = {"tokens", "length_control", "max_response"}
COUNTS = {"max_pairs", "docs", "max_docs"}
STEPS = {"steps", "warmup_steps", "checkpoint_every"}
UNITS = {"max_repeat": "x", "throughput": " tok/s/gpu", "price": " usd/gpu_hour", "epochs": " epochs"}


def field_name(key: str) -> str:
    return re.sub(r"\[[^\]]*\]", "", key).rsplit(".", 1)[-1]


def magnitude(x: float) -> str:
    for div, s in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(x) >= div:
            return f"{x / div:.4g}{s}"
    return f"{x:.4g}"


def number(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


def show(key: str, v: Any) -> str:
    name = field_name(key)
    if v is None:
        return "(unset)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        if name in PERCENT:
            return f"{v * 100:.4g}%"
        if name in TOKENS:
            return magnitude(v)
        if name in COUNTS:
            return magnitude(v)
        if name in STEPS:
            return f"{number(v)} steps"
        if name in UNITS:
            return f"{number(v)}{UNITS[name]}"
        return number(v)
    if isinstance(v, list | tuple):
        if name == "attention_pattern":
            return "[" + ", ".join("full" if w is None else f"window({w})" for w in v) + "]"
        if name == "batch" and len(v) == 2 and isinstance(v[0], str):
            return f"{magnitude(v[1]) if v[0] == 'tokens' else v[1]} {v[0]}"
        if name == "warmup" and len(v) == 2 and isinstance(v[0], str):
            return f"{v[1] * 100:.4g}%" if v[0] == "fraction" else f"{number(int(v[1]))} steps"
        return "[" + ", ".join(show(key, x) if not isinstance(x, str) else x for x in v) + "]"
    if isinstance(v, str):
        return v
    return repr(v)
