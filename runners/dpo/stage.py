"""The DPO stage is the training runner with another data source and train step (OLMo-core's
TrainModule pattern): `DpoStage` subclasses `runners.train.loop.Stage`, so the model build, FSDP2,
checkpoints with exact resume, the step log, the HF export, metrics.json and the receipt are the
training runner's own code.

Data: the reference stage's `pairs.parquet` (token ids and reference log-probs; nothing is
tokenized or recomputed here). Global pair k of the run is pair perm_e[k mod n] of the training
split, perm_e drawn from (seed, epoch e = k div n): a batch is a pure function of (seed, step), so
resuming needs no sampler state. Each step takes `batch_seqs` pairs; each forward runs
`runtime.micro_batch` pairs (their chosen and rejected sides stacked, right-padded).

The loss of a global batch is the mean of its pairs' losses, on any number of ranks (each rank
sums its pairs' losses and scales by world / pairs in the global batch, as FSDP averages
gradients). Per step it logs loss, reward accuracy and margin (plots/train.csv); on the held-out
pairs it logs accuracy, margin, rewards and loss before training, every ~1/8 of the run and at the
end (plots/eval.csv). A tied pair counts one half, so the untrained policy scores 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from runners.dpo.data import PairSet, collate, pair_logps, read_pairs
from runners.dpo.loss import completion_logps, dpo_loss, log_ratios, reward_accuracy
from runners.train import metrics as mx
from runners.train.data import rank_rows
from runners.train.errors import StageError
from runners.train.loop import Stage, _all_sum
from runners.train.optim import lr_at

REWARD_COLUMNS = ["reward_accuracy", "reward_margin", "chosen_reward", "rejected_reward"]
EVAL_COLUMNS = ["step", "heldout_loss", "heldout_reward_accuracy", "heldout_reward_margin", "heldout_chosen_reward",
                "heldout_rejected_reward", "heldout_pairs"]


class DpoStage(Stage):
    columns = (*mx.COLUMNS, *REWARD_COLUMNS)

    def setup_data(self) -> None:
        cfg = self.config
        if not Path(cfg.pairs).exists():
            raise StageError(f"{cfg.pairs} does not exist (the output of the DPO stage's reference stage)")
        self.train, self.heldout = read_pairs(cfg.pairs, "train"), read_pairs(cfg.pairs, "heldout")
        if not len(self.train):
            raise StageError(f"{cfg.pairs} has no training pairs")
        top = max((int(ids.max()) for ids, _ in self.train.chosen + self.train.rejected), default=0)
        if top >= cfg.model.padded_vocab:
            raise StageError(f"{cfg.pairs}: token id {top} is outside the model's vocabulary ({cfg.model.padded_vocab})")
        self.pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eos
        self.steps = cfg.steps or max(1, math.ceil((cfg.epochs or 1.0) * len(self.train) / cfg.batch_seqs))
        self.mixture = self.chat = None
        self.eval_every = max(1, self.steps // 8)
        self._orders: dict[int, np.ndarray] = {}
        lo, hi = rank_rows(cfg.batch_seqs, self.d.rank, self.d.world)
        self.micro = cfg.runtime.micro_batch or (hi - lo)  # pairs per forward

    def _pair(self, k: int) -> int:
        """Training pair of global index k (epochs follow each other)."""
        n = len(self.train)
        epoch = k // n
        if epoch not in self._orders:
            self._orders = {epoch: np.random.default_rng([self.config.seed, 7, epoch]).permutation(n)}
        return int(self._orders[epoch][k % n])

    def _scores(self, pairs: PairSet, idx: list[int]) -> dict[str, torch.Tensor]:
        """Per-pair loss and rewards of `pairs[idx]` under the current policy (one forward)."""
        cfg, d = self.config, self.d
        seqs = [pairs.chosen[i] for i in idx] + [pairs.rejected[i] for i in idx]
        input_ids, mask = collate(seqs, self.pad)
        input_ids, mask = input_ids.to(d.device), mask.to(d.device)
        with torch.autocast(d.device.type, dtype=self.dtype, enabled=self.autocast):
            logits = self.model(input_ids=input_ids, use_cache=False).logits
        lp, counts = completion_logps(logits, input_ids, mask)
        m = len(idx)
        pc, pr, nc, nr = lp[:m], lp[m:], counts[:m], counts[m:]
        rc, rr = pairs.ref_chosen[idx].to(d.device, lp.dtype), pairs.ref_rejected[idx].to(d.device, lp.dtype)
        loss = dpo_loss(pc, pr, rc, rr, cfg.beta, cfg.loss, nc, nr, label_smoothing=cfg.label_smoothing)
        c, r = log_ratios(pc, pr, rc, rr, cfg.loss, nc, nr)
        return {"loss": loss, "chosen": cfg.beta * c.detach(), "rejected": cfg.beta * r.detach(),
                "tokens": sum(len(ids) for ids, _ in seqs)}

    @staticmethod
    def _sums(s: dict[str, torch.Tensor]) -> torch.Tensor:
        """[loss, wins (ties count 1/2), margin, chosen reward, rejected reward, pairs], summed."""
        c, r = s["chosen"].double(), s["rejected"].double()
        wins = (c > r).double() + 0.5 * (c == r).double()
        return torch.stack([x.sum() for x in (s["loss"].detach().double(), wins, c - r, c, r, torch.ones_like(c))])

    def train_step(self, step: int) -> dict:
        cfg, d, model = self.config, self.d, self.model
        lr = lr_at(step, self.steps, cfg.optimizer.lr, cfg.schedule)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        lo, hi = self.rows
        idx = [self._pair(step * cfg.batch_seqs + g) for g in range(lo, hi)]
        chunks = [idx[i : i + self.micro] for i in range(0, len(idx), self.micro)]
        self.micro_per_step = len(chunks)
        scale = d.world / cfg.batch_seqs  # every global batch holds exactly batch_seqs pairs
        sums = torch.zeros(6, dtype=torch.float64, device=d.device)
        tokens = 0
        for i, chunk in enumerate(chunks):
            if d.initialized:
                model.set_requires_gradient_sync(i == len(chunks) - 1)
            s = self._scores(self.train, chunk)
            (s["loss"].sum() * scale).backward()
            sums += self._sums(s)
            tokens += s["tokens"]
        sums = _all_sum(sums, d)
        norm = self.optimizer_step()
        loss, wins, margin, chosen, rejected, n = (float(x) for x in sums)
        n_tokens = int(_all_sum(torch.tensor(float(tokens), dtype=torch.float64, device=d.device), d))
        return {"loss": loss / n, "lr": lr, "grad_norm": norm, "reward_accuracy": wins / n,
                "reward_margin": margin / n, "chosen_reward": chosen / n, "rejected_reward": rejected / n,
                "tokens": n_tokens}

    # -- held-out evaluation -------------------------------------------------------------------
    def begin(self, start: int, out: Path) -> None:
        self.start = start
        self.eval_log = mx.StepLog(out / "plots" / "eval.csv", start, self.d.is_main, EVAL_COLUMNS)

    def after_step(self, step: int) -> None:
        # NOTE: decided from the step alone, so every rank runs the same forwards; the resumed step
        # was evaluated before its checkpoint was written
        due = step == 0 or step % self.eval_every == 0 or step == self.steps
        if len(self.heldout) and due and not (step == self.start and step > 0):
            self.eval_log.add({"step": step, **self.evaluate()})

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss, reward accuracy, margin and rewards on the held-out pairs. Scored exactly as the
        reference stage scored them (`pair_logps`), so the policy before training ties every pair.
        Under FSDP every rank scores the whole held-out split (its forwards are collective)."""
        cfg, h = self.config, self.heldout
        dtype = self.dtype if self.autocast else torch.float32
        pc, pr, nc, nr = pair_logps(self.model, h.chosen, h.rejected, self.pad, cfg.runtime.micro_batch, self.d.device,
                                    dtype)
        loss = dpo_loss(pc, pr, h.ref_chosen, h.ref_rejected, cfg.beta, cfg.loss, nc, nr,
                        label_smoothing=cfg.label_smoothing)
        c, r = (cfg.beta * x for x in log_ratios(pc, pr, h.ref_chosen, h.ref_rejected, cfg.loss, nc, nr))
        return {"heldout_loss": float(loss.mean()), "heldout_reward_accuracy": float(reward_accuracy(c, r)),
                "heldout_reward_margin": float((c - r).mean()), "heldout_chosen_reward": float(c.mean()),
                "heldout_rejected_reward": float(r.mean()), "heldout_pairs": len(h)}

    # -- what the stage reports and what its checkpoints depend on --------------------------------
    def summary(self, out: Path) -> dict:
        rows = self.train_log_rows(out)
        k = max(1, len(rows) // 10)
        acc = [float(r["reward_accuracy"]) for r in rows]
        margin = [float(r["reward_margin"]) for r in rows]
        ev = self.eval_log.rows
        first, last = (ev[0], ev[-1]) if ev else ({}, {})
        return {
            "loss_type": self.config.loss, "beta": self.config.beta, "label_smoothing": self.config.label_smoothing,
            "pairs": {"train": len(self.train), "heldout": len(self.heldout),
                      "chosen_tokens_mean": float(self.train.chosen_tokens.double().mean()),
                      "rejected_tokens_mean": float(self.train.rejected_tokens.double().mean())},
            "train_reward_accuracy_first_tenth": sum(acc[:k]) / k, "train_reward_accuracy_last_tenth": sum(acc[-k:]) / k,
            "train_reward_margin_first_tenth": sum(margin[:k]) / k, "train_reward_margin_last_tenth": sum(margin[-k:]) / k,
            **{f"{key}_before": float(first[key]) for key in EVAL_COLUMNS[1:-1] if key in first},
            **{f"{key}_after": float(last[key]) for key in EVAL_COLUMNS[1:-1] if key in last},
        }

    @staticmethod
    def train_log_rows(out: Path) -> list[dict]:
        import csv

        with (out / "plots" / "train.csv").open() as f:
            return list(csv.DictReader(f))

    def fingerprint(self) -> dict:
        fp = super().fingerprint()
        fp["pairs"] = mx.file_hash(Path(self.config.pairs))
        return fp

    def input_hashes(self) -> dict[str, str]:
        return {**super().input_hashes(), self.config.pairs: mx.file_hash(Path(self.config.pairs))}
