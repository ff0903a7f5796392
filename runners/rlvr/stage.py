"""`run(config)`: one RLVR stage, from the stage it starts from to an exported, resumable policy.

Each step: active sampling fills the batch with groups (G completions of a prompt, sampled with
`runners.generate` from the current policy at the stage's temperature, scored by the verifiers),
then the learner takes `minibatches` GRPO updates on it. The sampler is the learner's own model
in one process (so it is in sync by construction); with several processes each rank samples its
share of the prompts from an unsharded copy that receives the full weights after every step, and
the groups are gathered so every rank trains on its rows of the same batch.

Outputs (as the training runner's): `hf/`, `checkpoints/` (every `runtime.checkpoint_every` steps,
with the prompt pool's position and the retired prompts, so a killed run resumes exactly),
`plots/train.csv` (per step: loss, rewards per verifier, pass rate, response length, dropped
groups, refills, retired prompts, clip fractions, generation and learning time and tokens/s),
`metrics.json`, `rejects.jsonl` (prompt records that cannot be scored) and `receipt.json`.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from pathlib import Path

import torch

from olmospec.ir.rlvr import REWARDS, RlvrConfig
from runners.common import sha256_file, write_json, write_receipt
from runners.rlvr.learner import Learner
from runners.rlvr.prompts import PromptPool, load_prompts, render
from runners.rlvr.rewards import Scorer
from runners.rlvr.sampling import Group, fill_batch
from runners.train import checkpoint as ckpt
from runners.train.errors import StageError
from runners.train.launch import Dist, setup, teardown
from runners.train.loop import load_tokenizer
from runners.train.metrics import StepLog, peak_memory_mb

COLUMNS = ["step", "loss", "lr", "grad_norm", "reward_mean", "reward_math", "reward_ifeval", "reward_code", "reward_random",
           "reward_format",
           "pass_at_group", "response_len", "truncated_frac", "groups", "dropped_frac", "refills", "retired",
           "clip_low_frac", "clip_high_frac", "gen_s", "learn_s", "gen_tokens_per_s", "learn_tokens_per_s",
           "verifier_failures", "peak_mem_mb"]


class Sampler:
    """Generation from the current policy; see the module docstring for how weights stay in sync."""

    def __init__(self, learner: Learner, config: RlvrConfig, d: Dist):
        from runners.generate import generator

        self.learner, self.config, self.d = learner, config, d
        self.model = learner.model
        if d.initialized:
            from transformers import AutoModelForCausalLM

            with torch.device(d.device):
                self.model = AutoModelForCausalLM.from_config(learner.hf)
            self.sync()
        self.gen = generator(self.model, tokenizer=learner.tokenizer, batch_size=config.runtime.micro_batch or 64)

    def sync(self) -> None:
        if self.model is self.learner.model:
            return
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        full = get_model_state_dict(self.learner.model, options=StateDictOptions(full_state_dict=True))
        self.model.load_state_dict(full, strict=True)

    def __call__(self, prompts: list, seed: int):
        from runners.generate import Sampling

        s = Sampling(temperature=self.config.temperature, max_new_tokens=self.config.max_response,
                     n=self.config.group, seed=seed)
        return self.gen.generate(prompts, s, progress=False)


def _gather(groups: list[Group], d: Dist) -> list[Group]:
    if not d.initialized:
        return groups
    import torch.distributed as dist

    parts: list = [None] * d.world
    dist.all_gather_object(parts, groups)
    return [g for p in parts for g in p]


class Episode:
    """What one step needs to sample and score: prompts, the sampler, the scorer and the pool."""

    def __init__(self, config: RlvrConfig, d: Dist, learner: Learner):
        self.config, self.d = config, d
        self.records, self.rejects, self.skipped = load_prompts(config.prompts, config.rewards)
        self.scorer = Scorer(config.rewards, config.seed, config.ifeval_mode)
        if "code" in {self.scorer.kind(r) for r in self.records}:
            from runners.rlvr.sandbox import probe

            probe()  # no namespaces, no code reward: refuse now rather than score code unisolated
        self.pool = PromptPool(len(self.records), config.seed)
        self.sampler = Sampler(learner, config, d)
        self.gen_s = 0.0
        self.gen_tokens = 0
        self.step = 0

    def sample(self, picks: list[int], attempt: int) -> list[Group]:
        d, cfg = self.d, self.config
        mine = picks[d.rank::d.world]
        seed = zlib.crc32(repr((cfg.seed, self.step, attempt, d.rank)).encode())
        t0 = time.perf_counter()
        out = self.sampler([render(self.records[i], cfg.template) for i in mine], seed) if mine else None
        self.gen_s += time.perf_counter() - t0
        groups = []
        for k, i in enumerate(mine):
            comps = out.completions[k]
            self.gen_tokens += sum(len(c.token_ids) for c in comps)
            rewards = [self.scorer(self.records[i], c.text, (self.step, attempt, j)) for j, c in enumerate(comps)]
            groups.append(Group(i, out.prompt_token_ids[k], comps, rewards, self.scorer.kind(self.records[i])))
        return _gather(groups, d)


def _row(step: int, r: dict, filled, ep: Episode, gen_s: float, gen_tokens: int, learn_s: float, d: Dist) -> dict:
    rewards: dict[str, list[float]] = {}
    lengths, truncated = [], 0
    for g in filled.sampled:
        rewards.setdefault(g.kind, []).extend(g.rewards)
        lengths += [len(c.token_ids) for c in g.completions]
        truncated += sum(c.finish_reason == "length" for c in g.completions)
    flat = [x for v in rewards.values() for x in v]

    def mean(xs):
        return sum(xs) / len(xs) if xs else ""

    return {
        "step": step + 1, "loss": r["loss"], "lr": r["lr"], "grad_norm": r["grad_norm"],
        "reward_mean": mean(flat), **{f"reward_{k}": mean(rewards.get(k, [])) for k in REWARDS},
        "pass_at_group": mean([float(max(g.rewards) >= 1.0) for g in filled.sampled]),
        "response_len": mean(lengths), "truncated_frac": truncated / max(1, len(lengths)),
        "groups": len(filled.groups), "dropped_frac": filled.dropped_frac, "refills": filled.refills,
        "retired": len(ep.pool.retired), "clip_low_frac": r["clip_low_frac"], "clip_high_frac": r["clip_high_frac"],
        "gen_s": gen_s, "learn_s": learn_s, "gen_tokens_per_s": gen_tokens / gen_s if gen_s else "",
        "learn_tokens_per_s": r["learn_tokens"] / learn_s if learn_s else "",
        "verifier_failures": sum(ep.scorer.counts.values()), "peak_mem_mb": peak_memory_mb(d.device),
    }


def _fingerprint(config: RlvrConfig) -> dict:
    from runners.common import config_hash

    weights = Path(config.init_from) / "hf" / "model.safetensors"
    return {"config": config_hash(config.model_dump(mode="json", exclude={"runtime", "output"})),
            "init_from": sha256_file(weights) if weights.exists() else None}


def run(config: RlvrConfig) -> dict:
    d = setup(config.runtime)
    try:
        return _run(config, d)
    finally:
        teardown(d)


def _run(config: RlvrConfig, d: Dist) -> dict:
    started = time.time()
    torch.manual_seed(config.seed)
    out = Path(config.output)
    # NOTE: the starting stage's export, not the tokenizer stage's folder: it carries the chat
    # template the policy was trained with (an SFT export writes one; a base model has none)
    tokenizer = load_tokenizer(str(Path(config.init_from) / "hf"))
    if config.template == "chat" and not getattr(tokenizer, "chat_template", None):
        raise StageError(f"{config.init_from}/hf has no chat template (a base model?): RL from a base model "
                         "uses `template = answer` (RL-Zero)")
    learner = Learner(config, d, tokenizer)
    ep = Episode(config, d, learner)
    saver = ckpt.Checkpointer(out / "checkpoints", d)
    ckpt.discard_if_foreign(out / "checkpoints", _fingerprint(config), d)
    start, totals = 0, Counter()
    if (latest := saver.latest()) is not None:
        trainer = saver.load(latest, learner.model, learner.optimizer)
        ep.pool.load_state_dict(trainer["pool"])
        ep.scorer.counts.update(trainer["verifier_failures"])
        totals.update(trainer["totals"])
        start = trainer["step"]
        ep.sampler.sync()
    log = StepLog(out / "plots" / "train.csv", start, d.is_main, columns=COLUMNS)
    every = max(1, config.runtime.checkpoint_every)
    for step in range(start, config.steps):
        ep.step, ep.gen_s, ep.gen_tokens = step, 0.0, 0
        filled = fill_batch(ep.pool, ep.sample, config.prompts_per_batch, active=config.active_sampling,
                            max_refills=config.max_refills, retire_above=config.retire_above)
        totals.update(sampled=len(filled.sampled), dropped=filled.dropped, refills=filled.refills, surplus=filled.surplus,
                      short_batches=int(len(filled.groups) < config.prompts_per_batch))
        t0 = time.perf_counter()
        r = learner.step(step, filled.groups) if filled.groups else _no_update(learner, step)
        learn_s = time.perf_counter() - t0
        ep.sampler.sync()
        log.add(_row(step, r, filled, ep, ep.gen_s, ep.gen_tokens, learn_s, d))
        if d.is_main and (step + 1) % config.runtime.log_every == 0:
            row = log.rows[-1]
            print(f"{config.stage_id} step {step + 1}/{config.steps} reward {row['reward_mean']:.3f} "
                  f"dropped {row['dropped_frac']:.2f} refills {row['refills']} loss {row['loss']:.4f}", flush=True)
        if (step + 1) % every == 0 or step + 1 == config.steps:
            saver.save(step + 1, learner.model, learner.optimizer, {
                "pool": ep.pool.state_dict(), "verifier_failures": dict(ep.scorer.counts), "totals": dict(totals)})
    ckpt.export_hf(learner.model, d, out / "hf", tokenizer)
    summary = _summary(log.rows, totals, ep, config)
    if d.is_main:
        from runners.curation.io import write_jsonl

        write_jsonl(out / "rejects.jsonl", ep.rejects)
        write_json(out / "metrics.json", summary)
        inputs = {"init_from": _fingerprint(config)["init_from"] or ""}
        write_receipt(out, {**config.model_dump(mode="json", exclude={"runtime"})}, started=started, inputs=inputs,
                      seed=config.seed, throughput=_timing(log.rows))
    return summary


def _no_update(learner: Learner, step: int) -> dict:
    """A step whose every group was dropped (active sampling out of refills): no update, logged."""
    from runners.train.optim import lr_at

    cfg = learner.config
    return {"loss": 0.0, "lr": lr_at(step, cfg.steps, cfg.optimizer.lr, cfg.schedule), "grad_norm": 0.0,
            "learn_tokens": 0, "clip_low_frac": 0.0, "clip_high_frac": 0.0}


def _summary(rows: list[dict], totals: Counter, ep: Episode, config: RlvrConfig) -> dict:
    def col(name: str) -> list[float]:
        return [float(r[name]) for r in rows if r.get(name) not in ("", None)]

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    k = max(1, len(rows) // 10)
    return {
        "steps": len(rows),
        "reward_first_tenth": mean(col("reward_mean")[:k]), "reward_last_tenth": mean(col("reward_mean")[-k:]),
        **{f"reward_{v}": mean(col(f"reward_{v}")) for v in REWARDS},
        "pass_at_group": mean(col("pass_at_group")), "response_len": mean(col("response_len")),
        "dropped_group_frac": totals["dropped"] / max(1, totals["sampled"]),
        "refills_per_step": totals["refills"] / max(1, len(rows)), "short_batches": totals["short_batches"],
        "surplus_group_frac": totals["surplus"] / max(1, totals["sampled"]),
        "full_batch_frac": mean([float(float(r["groups"]) >= config.prompts_per_batch) for r in rows]),
        "retired_prompts": len(ep.pool.retired), "prompts": len(ep.records), "prompts_rejected": len(ep.rejects),
        "prompts_skipped": dict(ep.skipped), "verifier_failures": dict(sorted(ep.scorer.counts.items())),
        "clip_low_frac": mean(col("clip_low_frac")), "clip_high_frac": mean(col("clip_high_frac")),
        "rewards": list(config.rewards), "template": config.template,
    }


def _timing(rows: list[dict]) -> dict:
    """Where the step time went: for the receipt, not metrics.json (a rerun must give identical
    metrics, and seconds differ from run to run)."""
    def col(name: str) -> list[float]:
        return [float(r[name]) for r in rows if r.get(name) not in ("", None)]

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    return {"gen_seconds": sum(col("gen_s")), "learn_seconds": sum(col("learn_s")),
            "gen_tokens_per_s": mean(col("gen_tokens_per_s")[1:] or col("gen_tokens_per_s")),
            "learn_tokens_per_s": mean(col("learn_tokens_per_s")[1:] or col("learn_tokens_per_s"))}
