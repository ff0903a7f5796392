"""Held-out greedy math accuracy of trained stages, scored by the RLVR math verifier.

    python benchmarks/rlvr_heldout.py runs/sft-XXXX runs/rlvr-YYYY ... [--eval FILE] [--template chat|answer]

For each stage folder (its `hf/` export) it greedily decodes every question of the evaluation file
(default: the tiny corpus's 300 held-out arithmetic problems) with `runners.generate`, prompting as
the stage was trained (the chat template, or RL-Zero's "Question: ...\\nAnswer:"), and scores the
completions with `runners.rlvr.verifiers.math_reward`: the same scorer the RL reward uses, so an
accuracy here and a reward there mean the same thing. Prints one JSON line per folder:
accuracy, its standard error, and the share of completions that state an answer at all.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def heldout_accuracy(folder: str, eval_file: Path, template: str = "chat", max_new_tokens: int = 48,
                     threads: int | None = None) -> dict:
    import torch

    from runners.generate import Sampling, generator
    from runners.rlvr.prompts import render
    from runners.rlvr.verifiers import format_reward, math_reward

    if threads:
        torch.set_num_threads(threads)
    items = [json.loads(x) for x in eval_file.read_text().splitlines() if x.strip()]
    gen = generator(str(Path(folder) / "hf"), device="cpu", batch_size=100)
    prompts = [render({"prompt": it["question"]}, template) for it in items]
    out = gen.generate(prompts, Sampling(temperature=0.0, max_new_tokens=max_new_tokens), progress=False)
    texts = [c[0].text for c in out.completions]
    correct = [math_reward(t, str(it["answer"])) for t, it in zip(texts, items, strict=True)]
    acc = sum(correct) / len(correct)
    return {"stage": folder, "n": len(items), "accuracy": acc, "stderr": math.sqrt(acc * (1 - acc) / len(items)),
            "answered": sum(format_reward(t) for t in texts) / len(texts), "seconds": round(out.seconds, 2),
            "example": texts[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stages", nargs="+", help="stage output folders (each with hf/)")
    ap.add_argument("--eval", default=str(ROOT / "specs/data/tiny/evals/math.jsonl"))
    ap.add_argument("--template", choices=("chat", "answer"), default="chat")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    for folder in args.stages:
        print(json.dumps(heldout_accuracy(folder, Path(args.eval), args.template, threads=args.threads)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
