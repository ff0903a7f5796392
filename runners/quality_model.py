"""The `quality_model` stage: train the document quality classifier from the spec's positive and
negative sources (a hashed word uni+bigram logistic regression, the model family of the DCLM/OLMo
fastText classifier; see runners/curation/quality.py for why not fastText itself) and report its
held-out accuracy.

    python -m runners.quality_model --config stages/quality-<names>-<hash>.json
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import StageFailure, stage_main

HELD_OUT = 0.1


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from runners.curation.quality import train
    from runners.inputs import read_texts

    (pos, bad_pos), (neg, bad_neg) = read_texts(cfg["positive"]), read_texts(cfg["negative"])
    if not pos or not neg:
        raise StageFailure("the quality classifier needs positive and negative documents")
    rng = random.Random(0)
    rng.shuffle(pos)
    rng.shuffle(neg)
    kp, kn = max(1, int(len(pos) * HELD_OUT)), max(1, int(len(neg) * HELD_OUT))
    model = train(pos[kp:], neg[kn:])
    sp, sn = model.score(pos[:kp]), model.score(neg[:kn])
    acc = (float((sp >= 0.5).sum()) + float((sn < 0.5).sum())) / (kp + kn)
    out = Path(cfg["output"])
    model.save(out / "model.bin")
    metrics = {"train_positive": len(pos) - kp, "train_negative": len(neg) - kn, "heldout_accuracy": acc,
               "rejects": bad_pos + bad_neg}  # unreadable records are counted, never silently dropped
    write_json(out / "metrics.json", metrics)
    print(f"quality classifier: held-out accuracy {acc:.3f} on {kp + kn} documents")
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main("quality_model", __doc__, run, argv)


if __name__ == "__main__":
    main()
