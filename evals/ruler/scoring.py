"""RULER's two scorers, with NVIDIA's definitions (NVIDIA/RULER `scripts/eval/synthetic/constants.py`).

Both take a list of predictions and, for each, a list of reference strings; a reference counts as
found when it occurs, case-insensitively, anywhere in the prediction. Predictions are cleaned as
NVIDIA's `postprocess_pred` does first: stripped, every control character made a newline, stripped
again. Scores are on a 0-100 scale, rounded to 2 decimals.

- `string_match_all` (niah, vt, cwe, fwe): each prediction scores the fraction of its references
  found; the score is the mean over predictions.
- `string_match_part` (qa): each prediction scores 1 when ANY of its references is found.

NOTE: lm-evaluation-harness's RULER port (`lm_eval/tasks/ruler/common_utils.py`) defines
`string_match_part` differently: the fraction of references found, maximised over predictions,
divided by the number of predictions, on a 0-1 scale. For the prediction "Paris" with references
["Paris", "France"], NVIDIA's gives 100 and lm-eval's 0.5; these functions follow NVIDIA, so scores
can be set beside the RULER paper's tables.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_CONTROL = re.compile(r"[\x00-\x1f]")


def postprocess_pred(pred: str) -> str:
    return _CONTROL.sub("\n", pred.strip()).strip()


def _found(pred: str, refs: Sequence[str]) -> list[bool]:
    low = postprocess_pred(pred).lower()
    return [r.lower() in low for r in refs]


def _check(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    if len(preds) != len(refs):
        raise ValueError(f"{len(preds)} predictions but {len(refs)} reference lists")
    if not preds:
        raise ValueError("no predictions to score")
    if any(isinstance(r, str) or not r for r in refs):
        raise ValueError("each prediction needs a non-empty list of reference strings")


def string_match_all(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """100 x mean over predictions of the fraction of its references found (NVIDIA's definition)."""
    _check(preds, refs)
    total = sum(sum(_found(p, r)) / len(r) for p, r in zip(preds, refs, strict=True))
    return round(100.0 * total / len(preds), 2)


def string_match_part(preds: Sequence[str], refs: Sequence[Sequence[str]]) -> float:
    """100 x fraction of predictions in which at least one reference is found (NVIDIA's definition)."""
    _check(preds, refs)
    total = sum(1.0 if any(_found(p, r)) else 0.0 for p, r in zip(preds, refs, strict=True))
    return round(100.0 * total / len(preds), 2)


SCORERS = {"string_match_all": string_match_all, "string_match_part": string_match_part}


def sample_score(pred: str, refs: Sequence[str], metric: str = "string_match_all") -> float:
    """One prediction's score, unrounded (0-100): what a task's mean is taken over."""
    if isinstance(refs, str) or not refs:
        raise ValueError("a prediction needs a non-empty list of reference strings")
    found = _found(pred, refs)
    if metric == "string_match_all":
        return 100.0 * sum(found) / len(refs)
    if metric == "string_match_part":
        return 100.0 if any(found) else 0.0
    raise ValueError(f"unknown RULER metric {metric!r}; known: {', '.join(SCORERS)}")
