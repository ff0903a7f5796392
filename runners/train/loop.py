"""`run(config)`: one training stage from config to exported model, resuming if it was interrupted.

The order of a stage: build the model on meta, shard it, materialise it (fresh init for pretrain,
the previous stage's `hf/` weights otherwise), restore the newest checkpoint if there is one, train
to `steps` (checkpointing every `runtime.checkpoint_every`), checkpoint the final step, then export
`hf/` and write metrics.json and receipt.json. A run that dies after the final checkpoint resumes
straight into the export.

Every token of the global batch weighs the same: each rank sums its losses and divides by the
trained-token count of the whole global batch (one all-reduce per step), then scales by the world
size because FSDP averages gradients over ranks. So 1 rank and N ranks compute the same update.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from olmospec.arch import flops_per_token
from olmospec.ir.train import TrainConfig
from runners.train import checkpoint as ckpt
from runners.train import metrics as mx
from runners.train.data import (
    IGNORE,
    Mixture,
    Source,
    micro_batches,
    positions_and_masks,
    pretrain_batch,
    rank_rows,
)
from runners.train.errors import StageError
from runners.train.launch import Dist, setup, teardown
from runners.train.model import (
    FULL,
    SLIDING,
    build_meta,
    hf_config,
    init_weights,
    load_hf_weights,
    materialize,
)
from runners.train.optim import build_optimizer, loss_sums, lr_at
from runners.train.parallel import compute_dtype, fsdp_settings, parallelize
from runners.train.sft import CHAT_TEMPLATE, ChatData


def _all_sum(t: torch.Tensor, d: Dist) -> torch.Tensor:
    if d.initialized:
        import torch.distributed as dist

        dist.all_reduce(t)
    return t


def load_tokenizer(path: str):
    from transformers import AutoTokenizer

    if not path or not Path(path).is_dir():
        raise StageError(f"config.tokenizer={path!r} is not a folder holding a transformers tokenizer")
    tok = AutoTokenizer.from_pretrained(path)
    if tok.eos_token_id is None:
        raise StageError(f"tokenizer {path} has no EOS token; token shards and SFT need one")
    # NOTE: transformers keeps from_pretrained's environment-dependent kwargs (local_files_only
    # follows HF_HUB_OFFLINE) and writes them into the export, which would make the same stage's
    # output differ between environments
    for key in ENVIRONMENT_KWARGS:
        tok.init_kwargs.pop(key, None)
    return tok


ENVIRONMENT_KWARGS = ("local_files_only", "is_local", "cache_dir", "force_download", "proxies", "token", "revision")


class Stage:
    """Everything `run` assembles, kept together so that the benchmark can time `train_step` alone."""

    def __init__(self, config: TrainConfig, d: Dist):
        self.config, self.d = config, d
        self.tokenizer = load_tokenizer(config.tokenizer)
        if len(self.tokenizer) > config.model.padded_vocab:
            raise StageError(
                f"tokenizer has {len(self.tokenizer)} tokens but model.vocab_size (padded) is "
                f"{config.model.padded_vocab}"
            )
        self.eos = self.tokenizer.eos_token_id
        self.hf = hf_config(
            config.model,
            eos_id=self.eos,
            pad_id=self.tokenizer.pad_token_id,
            max_positions=config.seq_len,
            yarn=config.yarn,
        )
        rt = config.runtime
        if rt.attention_impl == "flex_attention" and config.doc_mask:
            raise StageError("runtime.attention_impl = flex_attention cannot take the dense per-document masks of "
                             "doc_mask = true; use sdpa (or eager) for this stage")
        self.hf._attn_implementation = rt.attention_impl  # not saved with the export (transformers skips it)
        self.dtype = compute_dtype(d.device, config.runtime.dtype)
        model = build_meta(self.hf)
        parallelize(
            model,
            d,
            param_dtype=self.dtype,
            activation_checkpointing=rt.activation_checkpointing,
            compile=rt.compile,
            reshard_after_forward=rt.reshard_after_forward,
            prefetch=rt.fsdp_prefetch,
        )
        materialize(model, d.device)
        if config.init_from is not None:
            load_hf_weights(model, Path(config.init_from) / "hf")
        else:
            init_weights(model, config.model.init_std, config.seed)
        model.train()
        self.model = model
        self.optimizer = build_optimizer(model, config.optimizer, fused=rt.fused_optimizer)
        self.windows = {FULL: None, SLIDING: self.hf.sliding_window}
        self.setup_data()
        self.rows = rank_rows(config.batch_seqs, d.rank, d.world)
        self.autocast = (not d.initialized) and self.dtype != torch.float32
        self.micro_per_step = 0

    # -- what a stage kind specialises (DPO and RL swap these; the rest of the trainer is shared) --
    columns = mx.COLUMNS  # of plots/train.csv; they name every key `train_step` returns

    def setup_data(self) -> None:
        """Read the stage's data and set `steps`."""
        config = self.config
        if config.kind == "sft":
            self.chat = ChatData(config.data, self.tokenizer, config.seq_len, config.seed)
            # the export must prompt the way training formatted chats, whatever template came with it
            self.tokenizer.chat_template = CHAT_TEMPLATE
            self.steps = config.steps or self.chat.steps(config.epochs or 1.0, config.batch_seqs)
            self.mixture = None
        else:
            if config.steps is None:
                raise StageError(f"a {config.kind} stage needs `steps`")
            sources = [Source(c, config.seq_len) for c in config.data]
            for src in sources:
                for shard in src.shards:
                    if shard.meta["vocab_size"] > config.model.padded_vocab:
                        raise StageError(
                            f"{shard.path}: shard vocabulary {shard.meta['vocab_size']} exceeds the model's "
                            f"padded vocabulary {config.model.padded_vocab}"
                        )
            self.mixture = Mixture(sources, [c.share for c in config.data], config.seed)
            self.steps = config.steps
            self._check_repeats()

    def begin(self, start: int, out: Path) -> None:
        """Called once the model is restored (`start` = steps already done), before the first step."""

    def after_step(self, step: int) -> None:
        """Called after update `step` (1-based) and also with the start step before training."""

    def summary(self, out: Path) -> dict:
        """The stage's own figures for metrics.json (rank 0)."""
        if self.mixture is not None:
            return {"epochs_per_source": self.mixture.epochs()}
        mx.write_jsonl(out / "rejects.jsonl", self.chat.rejects)
        return {"sft_data": self.chat.stats()}

    def fingerprint(self) -> dict:
        return _fingerprint(self.config)

    def input_hashes(self) -> dict[str, str]:
        return mx.input_hashes(self.config)

    def effective_runtime(self) -> dict:
        """The runtime as it took effect, read back from the process and the model (not copied
        from the config), so a test can tell that each setting reached the run."""
        layers = self.model.model.layers
        return {
            "world_size": self.d.world,
            "device": self.d.device.type,
            "fsdp": self.d.initialized,
            "threads": torch.get_num_threads(),
            "micro_batches_per_step": self.micro_per_step,
            "compiled_layers": sum(getattr(layer, "_compiled_call_impl", None) is not None for layer in layers),
            "activation_checkpointing": bool(getattr(self.model, "is_activation_checkpointing" if hasattr(
                self.model, "is_activation_checkpointing") else "is_gradient_checkpointing", False)),
            "dtype": str(self.dtype).removeprefix("torch."),
            "checkpoint_every": self.config.runtime.checkpoint_every,
            "attention_impl": self.model.config._attn_implementation,
            "fused_optimizer": bool(self.optimizer.defaults.get("fused")),
            "fsdp_settings": fsdp_settings(self.model) if self.d.initialized else None,
        }

    def _check_repeats(self) -> None:
        """Refuse a run that would read a source more often than its `max_repeat` allows."""
        cfg = self.config
        for comp, src in zip(cfg.data, self.mixture.sources, strict=True):
            if comp.max_repeat is None:
                continue
            expected = self.steps * cfg.batch_seqs * comp.share / sum(c.share for c in cfg.data)
            if expected > comp.max_repeat * src.n_instances:
                raise StageError(
                    f"data source {comp.name!r}: {expected:.0f} sequences planned, {src.n_instances} available; "
                    f"more than max_repeat={comp.max_repeat}"
                )

    def batch(self, step: int):
        lo, hi = self.rows
        if self.mixture is not None:
            return pretrain_batch(self.mixture.step_batch(step, self.config.batch_seqs, lo, hi), self.eos)
        return self.chat.step_batch(step, self.config.batch_seqs, lo, hi)

    def train_step(self, step: int) -> dict:
        """One optimizer update over global batch `step`; returns loss, lr and grad norm."""
        cfg, d, model = self.config, self.d, self.model
        lr = lr_at(step, self.steps, cfg.optimizer.lr, cfg.schedule)
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        micro = micro_batches(self.batch(step), cfg.runtime.micro_batch)
        self.micro_per_step = len(micro)
        local = sum(int((m.targets != IGNORE).sum()) for m in micro)
        n_tokens = float(_all_sum(torch.tensor(float(local), dtype=torch.float64, device=d.device), d))
        scale = d.world / max(1.0, n_tokens)
        ce_total = torch.zeros((), dtype=torch.float64, device=d.device)
        for i, mb in enumerate(micro):
            if d.initialized:
                model.set_requires_gradient_sync(i == len(micro) - 1)
            inputs, targets = mb.inputs.to(d.device), mb.targets.to(d.device)
            kwargs = {}
            if cfg.doc_mask:
                positions, masks = positions_and_masks(mb.docs.to(d.device), self.windows, self.dtype)
                kwargs = {"position_ids": positions, "attention_mask": masks}
            with torch.autocast(d.device.type, dtype=self.dtype, enabled=self.autocast):
                logits = model(input_ids=inputs, use_cache=False, **kwargs).logits
            ce, z, _ = loss_sums(logits, targets)
            ((ce + cfg.optimizer.z_loss * z) * scale).backward()
            ce_total += ce.detach().double()
        loss = float(_all_sum(ce_total, d)) / max(1.0, n_tokens)
        return {"loss": loss, "lr": lr, "grad_norm": self.optimizer_step()}

    def optimizer_step(self) -> float:
        """Clip the accumulated gradients, update, clear; returns the gradient norm before clipping."""
        clip = self.config.optimizer.clip if self.config.optimizer.clip is not None else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), clip)
        if hasattr(norm, "full_tensor"):
            norm = norm.full_tensor()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def trainer_state(self) -> dict:
        return {"sampler": self.mixture.state_dict() if self.mixture is not None else None}

    def restore(self, trainer: dict) -> None:
        if self.mixture is not None:
            self.mixture.load_state_dict(trainer["sampler"])


def _fingerprint(config: TrainConfig) -> dict:
    """What the checkpoints were made from: the semantic config, the data and tokenizer files and
    the weights the stage started from. DVC reruns a stage with the same id when an upstream output
    changed; its persisted checkpoints must then not be resumed."""
    # NOTE: `output` is where, not what: a checkpoint folder moved elsewhere still resumes
    fp = {"config": mx.config_hash(config.model_copy(update={"output": ""})), "inputs": mx.input_hashes(config)}
    if config.init_from:
        weights = Path(config.init_from) / "hf" / "model.safetensors"
        fp["init_from"] = mx.file_hash(weights) if weights.exists() else None
    return fp


def run(config: TrainConfig, stage_cls: type[Stage] = Stage) -> dict:
    """Train one stage; returns the metrics summary (also written to `<output>/metrics.json`).

    `stage_cls` is the stage kind's `Stage`: its data and train step (DPO, RL); the loop around it
    (resume, checkpoints, step log, export, metrics, receipt) is this one for every kind."""
    d = setup(config.runtime)
    try:
        return _run(config, d, stage_cls)
    finally:
        teardown(d)


def _run(config: TrainConfig, d: Dist, stage_cls: type[Stage]) -> dict:
    from tqdm import tqdm

    t_start = time.time()
    torch.manual_seed(config.seed)
    out = Path(config.output)
    stage = stage_cls(config, d)
    saver = ckpt.Checkpointer(out / "checkpoints", d)
    ckpt.discard_if_foreign(out / "checkpoints", stage.fingerprint(), d)
    start = 0
    if (latest := saver.latest()) is not None:
        trainer = saver.load(latest, stage.model, stage.optimizer)
        stage.restore(trainer)
        start = trainer["step"]
    log = mx.StepLog(out / "plots" / "train.csv", start, d.is_main, stage.columns)
    stage.begin(start, out)
    stage.after_step(start)
    fpt = flops_per_token(config.model, config.seq_len)
    peak = mx.peak_flops(d.device, stage.dtype)
    tokens_per_step = config.batch_seqs * config.seq_len
    tokens = int(float(log.rows[-1]["tokens"])) if log.rows else start * tokens_per_step
    every = max(1, config.runtime.checkpoint_every)
    bar = tqdm(
        range(start, stage.steps),
        initial=start,
        total=stage.steps,
        disable=not d.is_main,
        desc=config.stage_id,
        mininterval=1.0,
    )
    for step in bar:
        t0 = time.perf_counter()
        r = stage.train_step(step)
        dt = time.perf_counter() - t0
        step_tokens = r.pop("tokens", tokens_per_step)  # a kind with ragged batches counts its own
        tokens += step_tokens
        tps = step_tokens / dt
        row = {
            **r,
            "step": step + 1,
            "tokens": tokens,
            "tokens_per_s": tps,
            "mfu": (fpt * tps / (peak * d.world)) if peak else "",
            "peak_mem_mb": mx.peak_memory_mb(d.device),
        }
        log.add(row)
        if (step + 1) % config.runtime.log_every == 0:
            bar.set_postfix(loss=f"{r['loss']:.4f}", tok_s=f"{tps:.0f}", refresh=False)
        stage.after_step(step + 1)
        if (step + 1) % every == 0 or step + 1 == stage.steps:
            saver.save(step + 1, stage.model, stage.optimizer, stage.trainer_state())
    ckpt.export_hf(stage.model, d, out / "hf", stage.tokenizer)
    summary = mx.summarize(log.rows)
    if d.is_main:
        summary.update(stage.summary(out))
        summary["params"] = sum(p.numel() for p in stage.model.parameters())
        summary["flops_per_token"] = fpt
        (out / "metrics.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        rec = mx.receipt(
            config, wall_s=time.time() - t_start, perf=mx.performance(log.rows), runtime=stage.effective_runtime(),
            checkpoint_steps=saver.saved_steps(), world=d.world, device=d.device,
        )
        rec["input_hashes"] = stage.input_hashes()
        rec["resumed_from_step"] = start
        (out / "receipt.json").write_text(json.dumps(rec, indent=2, sort_keys=True) + "\n")
    return summary
