"""One RLVR step, split into generation and learning, against the same step with one `generate`
call per prompt (the named baseline, measured in the same run).

    .venv/bin/python -m pytest benchmarks/bench_rlvr.py -s -p no:cacheprovider

The policy has the tiny flow's shape (hidden 128, 4 layers [3 sliding + 1 full], vocabulary 2048)
and the tiny spec's RL batch: 16 prompts x group 8, up to 64 new tokens at temperature 1, fp32 on
CPU, 2 threads (BENCH_THREADS=1 for one). Weights are a fixed random init, so completions run to
the length limit: the step's worst case. The stage samples all 128 completions in one batched `generate` call (KV cache, rows
sorted by prompt length); the baseline calls `generate` once per prompt (8 rows at a time). The
learning half is the same in both: one GRPO update with token-level loss and TIS.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as runners.rlvr does, before torch starts

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "train"))

from train_helpers import build_tokenizer

PROMPTS, GROUP, MAX_NEW = 16, 8, 64
THREADS = int(os.environ.get("BENCH_THREADS", "2"))
RESULTS: dict[str, dict] = {}


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    from transformers import AutoTokenizer

    from olmospec.ir.model import ModelConfig
    from olmospec.ir.rlvr import RlvrConfig
    from olmospec.ir.train import OptimizerConfig, ScheduleConfig, TrainRuntime
    from runners.generate import generator
    from runners.rlvr.learner import Learner
    from runners.train.launch import setup
    from runners.train.model import build_meta, hf_config, init_weights, materialize
    from runners.train.sft import CHAT_TEMPLATE

    torch.set_num_threads(THREADS)
    root = tmp_path_factory.mktemp("bench_rlvr")
    tok = AutoTokenizer.from_pretrained(build_tokenizer(root / "tok"))
    tok.chat_template = CHAT_TEMPLATE
    model_cfg = ModelConfig(name="tiny", d_model=128, n_layers=4, n_heads=4, n_kv_heads=4, mlp_hidden=384,
                            vocab_size=2048, vocab_pad_to=64, attention_pattern=(64, 64, 64, None))
    model = materialize(build_meta(hf_config(model_cfg, eos_id=tok.eos_token_id, pad_id=tok.pad_token_id,
                                             max_positions=1024)), "cpu")
    init_weights(model, 0.02, seed=0)
    model.save_pretrained(root / "init/hf")
    tok.save_pretrained(root / "init/hf")
    cfg = RlvrConfig(stage_id="bench", model=model_cfg, tokenizer=str(root / "tok"), init_from=str(root / "init"),
                     prompts={"kind": "source", "path": "-"}, rewards=("math",), group=GROUP,
                     prompts_per_batch=PROMPTS, steps=100, max_response=MAX_NEW,
                     optimizer=OptimizerConfig(lr=3e-6, weight_decay=0.0), schedule=ScheduleConfig(kind="constant"),
                     output=str(root / "out"), runtime=TrainRuntime(device="cpu", threads=THREADS))
    learner = Learner(cfg, setup(cfg.runtime), tok)
    prompts = [[{"role": "user", "content": f"What is {10 + 7 * i} + {30 + 3 * i}?"}] for i in range(PROMPTS)]
    return learner, generator(learner.model, tokenizer=tok, batch_size=PROMPTS * GROUP), prompts


def _step(learner, gen, prompts, per_prompt: bool) -> dict:
    from runners.generate import Sampling
    from runners.rlvr.sampling import Group

    t0 = time.perf_counter()
    if per_prompt:
        outs = [gen.generate([p], Sampling(max_new_tokens=MAX_NEW, n=GROUP, seed=i), progress=False)
                for i, p in enumerate(prompts)]
        pairs = [(o.prompt_token_ids[0], o.completions[0]) for o in outs]
    else:
        out = gen.generate(prompts, Sampling(max_new_tokens=MAX_NEW, n=GROUP, seed=0), progress=False)
        pairs = list(zip(out.prompt_token_ids, out.completions, strict=True))
    gen_s = time.perf_counter() - t0
    groups = [Group(i, ids, comps, [float(j % 2) for j in range(GROUP)], "math") for i, (ids, comps) in enumerate(pairs)]
    t1 = time.perf_counter()
    r = learner.step(0, groups)
    learn_s = time.perf_counter() - t1
    new = sum(len(c.token_ids) for _, comps in pairs for c in comps)
    return {"gen_s": gen_s, "learn_s": learn_s, "new_tokens": new, "learn_tokens": r["learn_tokens"]}


@pytest.mark.parametrize("mode", ["batched", "per_prompt"])
def test_rl_step(benchmark, parts, mode):
    learner, gen, prompts = parts
    runs = []
    benchmark.pedantic(lambda: runs.append(_step(learner, gen, prompts, mode == "per_prompt")), rounds=2,
                       iterations=1, warmup_rounds=1)
    best = min(runs, key=lambda r: r["gen_s"] + r["learn_s"])
    RESULTS[mode] = best
    total = best["gen_s"] + best["learn_s"]
    print(f"\n{mode}: step {total:.2f} s = generation {best['gen_s']:.2f} s ({best['gen_s'] / total:.0%}, "
          f"{best['new_tokens'] / best['gen_s']:.0f} new tokens/s) + learning {best['learn_s']:.2f} s "
          f"({best['learn_tokens'] / best['learn_s']:.0f} tokens/s)")
    if len(RESULTS) == 2:
        a, b = RESULTS["batched"], RESULTS["per_prompt"]
        print(f"batched generation is {b['gen_s'] / a['gen_s']:.1f}x faster than one generate call per prompt; "
              f"whole step {(b['gen_s'] + b['learn_s']) / (a['gen_s'] + a['learn_s']):.1f}x")
