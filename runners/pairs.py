"""The `pairs` stage: delta-learning preference pairs, the chosen side from one model and the
rejected side from another, on the spec's prompts.

    python -m runners.pairs --config stages/<stage>-pairs-<hash>.json

Each prompt becomes a user message; a model is prompted through its own chat template, or the
policy's (`template`) when it has none (a base checkpoint). Both models sample with the stage's
settings, the chosen side with seed `seed` and the rejected side with `seed + 1`, one sample per
prompt from the stream of (seed, prompt index, 0) (runners.generate). A pair is kept when both
sides have text, the chosen side ended by itself (not cut at `max_new_tokens`), the two differ, and,
with `verify`, the chosen side passes the prompt's verifier (math answer or IFEval constraints).

Outputs in runs/<id>/: `pairs.jsonl` (each pair with its provenance: models, seeds, sample stream,
finish reasons, the filters that kept it), `removed.jsonl` (pairs dropped by a filter, with the
reason), `rejects.jsonl` (unreadable prompt records, with file and line), `stats.json` (counts,
lengths, finish reasons), and the generation speed of each model in `receipt.json` (`throughput`).
"""

from __future__ import annotations

import gc
from collections import Counter
from pathlib import Path
from typing import Any

from runners.allocator import keep_freed_memory
from runners.common import write_json
from runners.stage_main import StageFailure, stage_main

SIDES = ("chosen", "rejected")
TIMINGS = ("seconds", "tokens_per_s")


def _verifier(name: str | None):
    """The reward function for a prompt's verifier name, or None when the prompt names none."""
    if name not in ("math", "ifeval"):
        return None
    try:
        from runners.rlvr import verifiers
    except ImportError as e:
        raise StageFailure(f"verify = true needs runners.rlvr.verifiers ({e})") from None
    if name == "math":
        return lambda text, rec: verifiers.math_reward(text, rec.get("answer", ""))
    return lambda text, rec: verifiers.ifeval_reward(text, rec.get("constraints") or [])


def judge(chosen, rejected, rec: dict, verify: bool) -> tuple[str | None, list[str]]:
    """(why the pair is dropped or None, the filters that kept it) for two `Completion`s."""
    kept_by = ["nonempty", "chosen_complete", "distinct"]
    if not chosen.text.strip():
        return "empty_chosen", []
    if not rejected.text.strip():
        return "empty_rejected", []
    if chosen.finish_reason == "length":
        return "chosen_truncated", []
    if chosen.text == rejected.text:
        return "identical", []
    if verify and (check := _verifier(rec.get("verifier"))) is not None:
        if float(check(chosen.text, rec)) < 1.0:
            return f"chosen_failed_{rec['verifier']}", []
        kept_by.append(f"verifier:{rec['verifier']}")
    return None, kept_by


def _generate(side: dict, prompts: list[str], template_tok, sampling, runtime: dict, backend: str, desc: str):
    """Completions of one model; returns (Generation, which template prompted it)."""
    from runners.generate import generator, render

    device = runtime.get("device", "auto")
    gen = generator(side["path"], backend=backend, device=None if device == "auto" else device,
                    batch_size=runtime.get("micro_batch") or 32)
    chats = [[{"role": "user", "content": p}] for p in prompts]
    own = bool(getattr(gen.tokenizer, "chat_template", None))
    inputs = chats if own else [render(template_tok, c) for c in chats]
    result = gen.generate(inputs, sampling, desc=desc)
    del gen
    gc.collect()
    return result, "own" if own else "policy"


def _lengths(xs: list[int]) -> dict[str, float]:
    if not xs:
        return {"mean": 0.0, "max": 0}
    return {"mean": round(sum(xs) / len(xs), 2), "max": max(xs)}


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch
    from transformers import AutoTokenizer

    from runners.curation.io import write_jsonl
    from runners.dpo.records import read
    from runners.generate import Sampling

    keep_freed_memory()
    runtime = cfg.get("runtime") or {}
    if runtime.get("threads"):
        torch.set_num_threads(runtime["threads"])
    out = Path(cfg["output"])
    got = read(cfg["prompts"], pairs=False, limit=cfg.get("max_pairs"))
    if not got.records:
        raise StageFailure(f"no usable prompt records ({sum(got.counts().values())} rejected: {got.counts()})")
    recs = [r for _, _, r in got.records]
    prompts = [r["prompt"] for r in recs]
    template_tok = AutoTokenizer.from_pretrained(cfg["template"])
    s = cfg["sampling"]
    results, templates, seeds = {}, {}, {}
    for k, side in enumerate(SIDES):
        seeds[side] = cfg["seed"] + k
        sampling = Sampling(temperature=s["temperature"], top_p=s["top_p"], max_new_tokens=s["max_new_tokens"],
                            seed=seeds[side])
        results[side], templates[side] = _generate(cfg[side], prompts, template_tok, sampling, runtime,
                                                   cfg.get("generator", "hf"), f"{cfg['stage_id']} {side}")
    kept, removed = [], []
    for i, rec in enumerate(recs):
        c, r = (results[side].completions[i][0] for side in SIDES)
        why, kept_by = judge(c, r, rec, bool(cfg.get("verify")))
        if why is not None:
            removed.append({"id": rec["id"], "reason": why, "detail": {"chosen": c.text[:200], "rejected": r.text[:200]}})
            continue
        prov = {side: {"model": cfg[side]["name"], "path": cfg[side]["path"], "seed": seeds[side], "stream": [i, 0],
                       "finish_reason": x.finish_reason, "tokens": len(x.token_ids), "template": templates[side]}
                for side, x in zip(SIDES, (c, r), strict=True)}
        meta = {k: v for k, v in rec.items() if k not in ("id", "prompt")}
        kept.append({"id": rec["id"], "prompt": rec["prompt"], "chosen": c.text, "rejected": r.text,
                     "provenance": {**prov, "kept_by": kept_by}, "meta": meta})
    write_jsonl(out / "pairs.jsonl", kept)
    write_jsonl(out / "removed.jsonl", removed)
    write_jsonl(out / "rejects.jsonl", [x.to_json() for x in got.rejects])
    stats = {
        "prompts_used": len(recs), "rejects": len(got.rejects), "rejects_by_reason": got.counts(),
        "pairs_kept": len(kept), "pairs_removed": len(removed),
        "removed_by_reason": dict(sorted(Counter(x["reason"] for x in removed).items())),
        "generation": {side: {k: v for k, v in results[side].stats().items() if k not in TIMINGS} for side in SIDES},
        "completion_tokens": {side: _lengths([len(results[side].completions[i][0].token_ids) for i in range(len(recs))])
                              for side in SIDES},
    }
    write_json(out / "stats.json", stats)
    # NOTE: stats.json holds results only (the same spec and seed give the same file); speed goes to the receipt
    seconds = sum(results[x].seconds for x in SIDES)
    throughput = {"tokens_per_s": round(sum(results[x].new_tokens for x in SIDES) / max(1e-9, seconds), 1),
                  **{f"{x}_tokens_per_s": results[x].stats()["tokens_per_s"] for x in SIDES}}
    print(f"pairs: {len(kept)} kept of {len(recs)} prompts ({stats['removed_by_reason']}), "
          f"{len(got.rejects)} prompt records rejected, {throughput['tokens_per_s']} tokens/s")
    return {**stats, "throughput": throughput}


def main(argv: list[str] | None = None) -> None:
    stage_main("pairs", __doc__, run, argv)


if __name__ == "__main__":
    main()
