"""The RL learner: the training runner's model, sharding, optimizer and schedule, with GRPO as the
train step ("RL swaps the train step, not the trainer").

`Learner(config, d)` builds the policy exactly as `runners.train` builds a stage's model (meta
init, FSDP2 `parallelize`, strict load of the previous stage's `hf/` export, AdamW groups).
`step(groups)` turns the batch's groups into (prompt + completion) rows, splits them into
`minibatches` optimizer updates, and each update into micro-batches (`runtime.micro_batch` rows)
whose GRPO losses are weighted by their share of the update's response tokens, counted over all
ranks: one token-level mean per update, however the rows are split.
"""

from __future__ import annotations

from pathlib import Path

import torch

from olmospec.ir.rlvr import RlvrConfig
from runners.rlvr.loss import clip_fractions, group_advantages, grpo_loss
from runners.rlvr.sampling import Group
from runners.train.launch import Dist
from runners.train.model import build_meta, load_hf_weights, materialize
from runners.train.optim import build_optimizer, lr_at
from runners.train.parallel import compute_dtype, parallelize


def _all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.initialized:
        import torch.distributed as dist

        dist.all_reduce(t)
    return t


class Rows:
    """Right-padded (prompt + completion) token rows with a response mask and per-token tensors."""

    def __init__(self, groups: list[Group], advantages: torch.Tensor, pad: int):
        seqs, self.meta = [], []
        for gi, g in enumerate(groups):
            for j, c in enumerate(g.completions):
                seqs.append((g.prompt_ids, list(c.token_ids), list(c.logprobs), float(advantages[gi, j])))
        width = max(len(p) + len(c) for p, c, _, _ in seqs)
        n = len(seqs)
        self.input_ids = torch.full((n, width), pad, dtype=torch.long)
        self.attention = torch.zeros((n, width), dtype=torch.long)
        self.mask = torch.zeros((n, width - 1), dtype=torch.bool)  # position t predicts token t+1
        self.sampler_logps = torch.zeros((n, width - 1), dtype=torch.float32)
        self.advantages = torch.tensor([s[3] for s in seqs], dtype=torch.float32)
        for r, (p, c, lp, _) in enumerate(seqs):
            k = len(p) + len(c)
            self.input_ids[r, :k] = torch.tensor(p + c)
            self.attention[r, :k] = 1
            self.mask[r, len(p) - 1 : k - 1] = True
            self.sampler_logps[r, len(p) - 1 : k - 1] = torch.tensor(lp, dtype=torch.float32)

    def __len__(self) -> int:
        return self.input_ids.shape[0]


class Learner:
    def __init__(self, config: RlvrConfig, d: Dist, tokenizer):
        self.config, self.d, self.tokenizer = config, d, tokenizer
        # NOTE: the architecture of the stage RL starts from, as exported (RoPE scaling such as YaRN
        # from a long-context stage included), not one rebuilt from `model`: any difference would
        # silently change the policy before its first update
        from transformers import AutoConfig

        self.hf = AutoConfig.from_pretrained(Path(config.init_from) / "hf")
        self.dtype = compute_dtype(d.device, config.runtime.dtype)
        model = build_meta(self.hf)
        parallelize(model, d, param_dtype=self.dtype, activation_checkpointing=config.runtime.activation_checkpointing,
                    compile=config.runtime.compile)
        materialize(model, d.device)
        load_hf_weights(model, Path(config.init_from) / "hf")
        model.train()
        self.model = model
        self.optimizer = build_optimizer(model, config.optimizer)
        self.pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.ref = None
        if config.kl > 0:  # a frozen copy of the starting policy, for the k3 KL term
            from transformers import AutoModelForCausalLM

            self.ref = AutoModelForCausalLM.from_pretrained(Path(config.init_from) / "hf", dtype=self.dtype)
            self.ref.to(d.device).eval().requires_grad_(False)

    def logps(self, rows: Rows, sl: slice, model=None) -> torch.Tensor:
        """Per-token log-probs of rows[sl] under the current weights (fp32), at the sampling
        temperature, so that they compare with the sampler's."""
        dev = self.d.device
        ids, att = rows.input_ids[sl].to(dev), rows.attention[sl].to(dev)
        logits = (model or self.model)(input_ids=ids, attention_mask=att, use_cache=False).logits[:, :-1].float()
        logits = logits / self.config.temperature if self.config.temperature > 0 else logits
        return torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)

    def _ref_logps(self, rows: Rows, sl: slice) -> torch.Tensor | None:
        if self.ref is None:
            return None
        with torch.no_grad():
            return self.logps(rows, sl, self.ref)

    def _micro(self, lo: int, hi: int) -> list[slice]:
        m = self.config.runtime.micro_batch or (hi - lo)
        return [slice(a, min(a + m, hi)) for a in range(lo, hi, m)]

    def step(self, step: int, groups: list[Group]) -> dict:
        """One GRPO batch: `minibatches` optimizer updates over the groups' completions."""
        cfg, d = self.config, self.d
        lr = lr_at(step, cfg.steps, cfg.optimizer.lr, cfg.schedule)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        rewards = torch.tensor([g.rewards for g in groups], dtype=torch.float64)
        rows = Rows(groups, group_advantages(rewards, cfg.advantages).float(), self.pad)
        n = len(rows)
        per_rank = n // d.world
        mine = range(d.rank * per_rank, (d.rank + 1) * per_rank)
        bounds = [mine.start + (per_rank * k) // cfg.minibatches for k in range(cfg.minibatches + 1)]
        old = None
        if cfg.minibatches > 1:  # later updates need the log-probs from before the first one
            with torch.no_grad():
                old = torch.zeros_like(rows.sampler_logps)
                for sl in self._micro(mine.start, mine.stop):
                    old[sl] = self.logps(rows, sl).cpu()
        losses, norms, clips = [], [], {"clip_low_frac": 0.0, "clip_high_frac": 0.0}
        for k in range(cfg.minibatches):
            lo, hi = bounds[k], bounds[k + 1]
            local = float(rows.mask[lo:hi].sum())
            total = float(_all_sum(torch.tensor(local, dtype=torch.float64, device=d.device), d))
            micro = self._micro(lo, hi)
            loss_sum = torch.zeros((), dtype=torch.float64, device=d.device)
            for i, sl in enumerate(micro):
                if d.initialized:
                    self.model.set_requires_gradient_sync(i == len(micro) - 1)
                lp = self.logps(rows, sl)
                dev = lp.device
                mask, adv = rows.mask[sl].to(dev), rows.advantages[sl].to(dev)
                old_lp = old[sl].to(dev) if old is not None else lp.detach()
                loss = grpo_loss(lp, old_lp, adv, mask, clip_low=cfg.clip[0], clip_high=cfg.clip[1],
                                 sampler_logps=rows.sampler_logps[sl].to(dev) if cfg.tis_cap is not None else None,
                                 tis_cap=cfg.tis_cap, ref_logps=self._ref_logps(rows, sl), kl_coef=cfg.kl)
                weight = float(mask.sum()) * d.world / max(1.0, total)  # FSDP averages over ranks
                (loss * weight).backward()
                loss_sum += loss.detach().double() * float(mask.sum())
                for key, v in clip_fractions(lp.detach(), old_lp, adv, mask, *cfg.clip).items():
                    clips[key] += v * float(mask.sum()) / max(1.0, local) / cfg.minibatches
            clip = cfg.optimizer.clip if cfg.optimizer.clip is not None else float("inf")
            norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            norms.append(float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm))
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)
            losses.append(float(_all_sum(loss_sum, d)) / max(1.0, total))
        return {"loss": sum(losses) / len(losses), "lr": lr, "grad_norm": sum(norms) / len(norms),
                "learn_tokens": int(rows.attention.sum()), **clips}
