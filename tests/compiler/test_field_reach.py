"""Every setting reaches the stage that reads it: one spec edit per field of the resolved spec, and the
compiled stage config (or runtime file, or planning figure) that the edit changes, to the value the
edit asks for. With the runner tests named in docs/FIELDS.md this proves a setting changes what runs;
a case here is how a row of that table says "the compiler passes it on".

Each case compiles SPEC and SPEC with one edit (no data is needed to compile) and checks that the
value at the case's path differs in the first and equals the expected value in the second.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from olmospec.api import load_text
from olmospec.graph import Graph
from olmospec.graph_stages import build_graph

SPEC = """
olmospec 1
runtime { gpu = "H100" }
tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }
source web_raw { path = "data/web/*.jsonl"  tokens = 2M  license = "CC-BY-4.0" }
source code { path = "data/code.parquet"  tokens = 1M }
source qpos { path = "data/qpos.jsonl" }
source qneg { path = "data/qneg.jsonl" }
source hay { path = "data/hay.jsonl" }
source chat { path = "data/sft.jsonl"  text = "messages" }
source prompts { path = "data/prompts.jsonl"  text = "prompt" }
source prefs { path = "data/prefs.jsonl"  text = "prompt" }
task math { path = "data/math.jsonl" }
task mc { path = "data/mc.jsonl"  type = multiple_choice  metric = acc }
curate web from web_raw {
  dedup exact
  dedup minhash { ngram = 5  bands = 14  rows = 8 }
  dedup substring { min_bytes = 500 }
  quality linear { positive = [qpos]  negative = [qneg] }
  upsample { drop_below = 40%  max_repeat = 7x  per = topic }
  decontaminate { against = evals  ngram = 8  min_overlap = 50% }
}
curate code_fim from code { fim { rate = 50%  spm = 50% } }
mix pre { web 80%  code_fim 20% { max_repeat = 4x }  tokens = 1M }
model m {
  d_model = 64  layers = 4  heads = 4  kv_heads = 2  mlp = 256  tokenizer = tok
  attention = repeat(window(32), window(32), window(32), full)
}
model m2 { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok }
model ext { path = "ext_model" }
stage pretrain {
  model = m  data = pre  tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3
  schedule cosine { warmup = 10 steps  final = 10% }
  runtime { procs_per_node = 2  micro_batch = 8  throughput = 5000 tok/s/gpu }
}
stage longctx after pretrain {
  data = pre  tokens = 512K  seq = 256  lr = 5e-4
  yarn { factor = 4  original = 128 }
}
stage sft after longctx { data = chat  epochs = 2  lr = 1e-4  schedule linear  runtime { threads = 2 } }
stage dpo after sft {
  prompts = prompts  pairs = delta(chosen = sft, rejected = ext)
  lr = 1e-6  epochs = 1  seq = 128  batch = 8 seqs }
stage rlvr after dpo { prompts = prompts  rewards = [math]  steps = 10  lr = 3e-6 }
eval e after [pretrain, longctx, sft] { tasks = [math, mc]  contamination = check }
eval r after longctx { ruler = [256]  haystack = hay  ruler_samples = 4 }
report main { columns = [math] }
report claims {
  rows = findings
  finding f { claim = "SFT helps"  task = math  measure = base.sft  against = base.pretrain  expect = higher }
}
"""

PRE = "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3"
PRE_RT = "runtime { procs_per_node = 2  micro_batch = 8  throughput = 5000 tok/s/gpu }"
SFT_RT = "runtime { threads = 2 }"
MINHASH = "dedup minhash { ngram = 5  bands = 14  rows = 8 }"
UPSAMPLE = "upsample { drop_below = 40%  max_repeat = 7x  per = topic }"
DECON = "decontaminate { against = evals  ngram = 8  min_overlap = 50% }"
FIM = "fim { rate = 50%  spm = 50% }"
YARN = "yarn { factor = 4  original = 128 }"
DPO_END = "batch = 8 seqs }"
RL_END = "lr = 3e-6 }"
MATH = 'task math { path = "data/math.jsonl" }'
E_END = "contamination = check }"
FINDING = "measure = base.sft  against = base.pretrain  expect = higher }"
TOK2 = 'tokenizer tok2 { path = "tok2"  vocab = 512 }\n'
ABLATION = "ablation short { sft.epochs = 1 }\n"


def _add(anchor: str, text: str) -> tuple[str, str]:
    """An edit that writes `text` inside the block that `anchor` closes (anchor ends with `}`)."""
    return anchor, anchor[:-1].rstrip() + f"  {text} }}"


# field: (old text, new text, node, path, expected value). The node is a label (`pretrain`,
# `web-minhash`), `kind:KIND` for the one node of a runner kind;
# the path goes into node.config (`config.`), node.runtime (`runtime.`) or the node's planning
# figures (`node.`); a list index is a number; `exists` asks whether the node is in the graph.
# fmt: off
CASES: dict[str, tuple[str, str, str, str, Any]] = {
    # sources
    "Source.path": ('path = "data/hay.jsonl"', 'path = "data/hay2.jsonl"',
        "manifest-hay", "config.source.path", "data/hay2.jsonl"),
    "Source.dataset": ('source hay { path = "data/hay.jsonl" }', 'source hay { dataset = "org/hay" }',
        "manifest-hay", "config.source.dataset", "org/hay"),
    "Source.split": (
        'source hay { path = "data/hay.jsonl" }',
        'source hay { dataset = "org/hay"  split = "test" }',
        "manifest-hay", "config.source.split", "test"),
    "Source.format": ('path = "data/code.parquet"', 'path = "data/code.parquet"  format = parquet',
        "manifest-code", "config.source.format", "parquet"),
    "Source.text": ('path = "data/hay.jsonl"', 'path = "data/hay.jsonl"  text = "body"',
        "manifest-hay", "config.source.text", "body"),
    "Source.id": ('path = "data/hay.jsonl"', 'path = "data/hay.jsonl"  id = "doc_id"',
        "manifest-hay", "config.source.id", "doc_id"),
    "Source.license": ('"CC-BY-4.0"', '"ODC-BY"', "manifest-web_raw", "config.license", "ODC-BY"),
    # tokenizers
    "Tokenizer.path": (
        "tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }",
        'tokenizer tok { path = "my_tok"  vocab = 512 }',
        "tokenize-web", "config.tokenizer", "my_tok"),
    "Tokenizer.train": (
        "tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }",
        'tokenizer tok { path = "my_tok"  vocab = 512 }',
        "tokenizer-tok", "exists", False),
    "Tokenizer.vocab": (
        "tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }",
        'tokenizer tok { path = "my_tok"  vocab = 640 }',
        "pretrain", "config.model.vocab_size", 640),
    "Tokenizer.pad_to": _add("data = [web_raw] }", "pad_to = 128") + (
        "pretrain", "config.model.vocab_pad_to", 128),
    "TokenizerTrain.vocab": ("vocab = 512  data", "vocab = 640  data",
        "tokenizer-tok", "config.train.vocab", 640),
    "TokenizerTrain.sources": ("data = [web_raw]", "data = [web_raw, code]",
        "tokenizer-tok", "config.inputs.1.name", "code"),
    "TokenizerTrain.min_frequency": _add("data = [web_raw] }", "min_frequency = 5") + (
        "tokenizer-tok", "config.train.min_frequency", 5),
    "TokenizerTrain.split_digits": _add("data = [web_raw] }", "split_digits = false") + (
        "tokenizer-tok", "config.train.split_digits", False),
    "TokenizerTrain.max_docs": _add("data = [web_raw] }", "max_docs = 100") + (
        "tokenizer-tok", "config.train.max_docs", 100),
    # curations and their steps
    "Curate.sources": ("curate code_fim from code", "curate code_fim from [code, hay]",
        "code_fim-fim", "config.input.kind", "union"),
    "Curate.steps": ("  dedup substring { min_bytes = 500 }\n", "", "web-substring", "exists", False),
    "ExactStep.keep": ("dedup exact\n", "dedup exact { keep = newest }\n",
        "web-exact", "config.step.keep", "newest"),
    "ExactStep.date": ("dedup exact\n", 'dedup exact { keep = newest  date = "crawled" }\n',
        "web-exact", "config.step.date", "crawled"),
    "MinhashStep.ngram": (MINHASH, "dedup minhash { ngram = 7  bands = 14  rows = 8 }",
        "web-minhash", "config.step.ngram", 7),
    "MinhashStep.permutations": ("bands = 14  rows = 8", "permutations = 128",
        "web-minhash", "config.step.permutations", 128),
    "MinhashStep.bands": ("bands = 14", "bands = 16", "web-minhash", "config.step.bands", 16),
    "MinhashStep.rows": ("rows = 8", "rows = 9", "web-minhash", "config.step.rows", 9),
    "MinhashStep.threshold": _add(MINHASH, "threshold = 0.7") + ("web-minhash", "config.step.threshold", 0.7),
    "MinhashStep.max_cluster": _add(MINHASH, "max_cluster = 50") + (
        "web-minhash", "config.step.max_cluster", 50),
    "SubstringStep.min_bytes": ("min_bytes = 500", "min_bytes = 300",
        "web-substring", "config.step.min_bytes", 300),
    "SubstringStep.bookend": _add("min_bytes = 500 }", "bookend = 80%") + (
        "web-substring", "config.step.bookend", 0.8),
    "QualityStep.positive": ("positive = [qpos]", "positive = [qpos, hay]",
        "kind:quality_model", "config.positive.1.name", "hay"),
    "QualityStep.negative": ("negative = [qneg]", "negative = [qneg, hay]",
        "kind:quality_model", "config.negative.1.name", "hay"),
    "UpsampleStep.drop_below": ("drop_below = 40%", "drop_below = 30%",
        "web-upsample", "config.step.drop_below", 0.3),
    "UpsampleStep.max_repeat": ("max_repeat = 7x", "max_repeat = 5x",
        "web-upsample", "config.step.max_repeat", 5.0),
    "UpsampleStep.per": ("per = topic", "per = source", "web-upsample", "config.step.per", "source"),
    "UpsampleStep.tokens": _add(UPSAMPLE, "tokens = 500K") + ("web-upsample", "config.step.tokens", 500000),
    "UpsampleStep.words": _add(UPSAMPLE, "words = 100K") + ("web-upsample", "config.tokenizer", None),
    "UpsampleStep.seed": _add(UPSAMPLE, "seed = 3") + ("web-upsample", "config.step.seed", 3),
    "DecontaminateStep.against": ("against = evals", "against = [math]",
        "web-decontaminate", "config.tasks.1.name", None),
    "DecontaminateStep.ngram": (DECON, "decontaminate { against = evals  ngram = 13  min_overlap = 50% }",
        "web-decontaminate", "config.step.ngram", 13),
    "DecontaminateStep.min_overlap": ("min_overlap = 50%", "min_overlap = 60%",
        "web-decontaminate", "config.step.min_overlap", 0.6),
    "FimStep.rate": (FIM, "fim { rate = 90%  spm = 50% }", "code_fim-fim", "config.step.rate", 0.9),
    "FimStep.spm": ("spm = 50%", "spm = 10%", "code_fim-fim", "config.step.spm", 0.1),
    "FimStep.seed": _add(FIM, "seed = 4") + ("code_fim-fim", "config.step.seed", 4),
    # mixes
    "Mix.entries": ("code_fim 20% { max_repeat = 4x }", "code_fim 10% { max_repeat = 4x }  hay 10%",
        "mix-pre", "config.components.2.name", "hay"),
    "Mix.tokens": ("max_repeat = 4x }  tokens = 1M", "max_repeat = 4x }  tokens = 2M",
        "mix-pre", "config.tokens", 2000000),
    "MixEntry.share": ("web 80%  code_fim 20%", "web 70%  code_fim 30%",
        "mix-pre", "config.components.0.share", 0.7),
    "MixEntry.max_repeat": ("max_repeat = 4x", "max_repeat = 3x",
        "mix-pre", "config.components.1.max_repeat", 3.0),
    # models
    "Spec.model_tokenizers": ("mlp = 256  tokenizer = tok", "mlp = 256  tokenizer = tok2",
        "pretrain", "config.tokenizer", "tok2"),
    "ModelConfig.d_model": ("d_model = 64", "d_model = 128", "pretrain", "config.model.d_model", 128),
    "ModelConfig.n_layers": ("layers = 4", "layers = 8", "pretrain", "config.model.n_layers", 8),
    "ModelConfig.n_heads": ("heads = 4  kv_heads = 2", "heads = 8  kv_heads = 2",
        "pretrain", "config.model.n_heads", 8),
    "ModelConfig.n_kv_heads": ("kv_heads = 2", "kv_heads = 4", "pretrain", "config.model.n_kv_heads", 4),
    "ModelConfig.mlp_hidden": ("mlp = 256", "mlp = 512", "pretrain", "config.model.mlp_hidden", 512),
    "ModelConfig.vocab_size": ("mlp = 256", "mlp = 256  vocab = 1024",
        "pretrain", "config.model.vocab_size", 1024),
    "ModelConfig.vocab_pad_to": ("mlp = 256", "mlp = 256  pad_to = 128",
        "pretrain", "config.model.vocab_pad_to", 128),
    "ModelConfig.attention_pattern": (
        "window(32), window(32), window(32)",
        "window(16), window(16), window(16)",
        "pretrain", "config.model.attention_pattern.0", 16),
    "ModelConfig.rope_theta": ("mlp = 256", "mlp = 256  rope { theta = 500000 }",
        "pretrain", "config.model.rope_theta", 500000.0),
    "ModelConfig.norm_eps": ("mlp = 256", "mlp = 256  norm = rms(1e-5)",
        "pretrain", "config.model.norm_eps", 1e-05),
    "ModelConfig.tie_embeddings": ("mlp = 256", "mlp = 256  tie_embeddings = true",
        "pretrain", "config.model.tie_embeddings", True),
    "ModelConfig.init_std": ("mlp = 256", "mlp = 256  init_std = 0.01",
        "pretrain", "config.model.init_std", 0.01),
    "ExternalModel.path": ('model ext { path = "ext_model" }', 'model ext { hf = "org/other" }',
        "dpo-pairs", "config.rejected.path", "org/other"),
    # stages
    "Stage.kind": ("stage longctx after pretrain {", "stage longctx after pretrain {  kind = midtrain",
        "longctx", "config.kind", "midtrain"),
    "Stage.after": ("stage sft after longctx", "stage sft after pretrain",
        "sft", "config.init_from", "runs/pretrain-*"),
    "Stage.model": ("model = m  data", "model = m2  data", "pretrain", "config.model.name", "m2"),
    "Stage.data": ("model = m  data = pre", "model = m  data = web", "pretrain", "config.data.1.name", None),
    "Stage.tokenizer": (PRE, "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  tokenizer = tok2",
        "pretrain", "config.tokenizer", "tok2"),
    "Stage.tokens": (PRE, "tokens = 2M  seq = 128  batch = 16 seqs  lr = 1e-3",
        "pretrain", "config.steps", 976),
    "Stage.steps": (PRE, "steps = 100  seq = 128  batch = 16 seqs  lr = 1e-3",
        "pretrain", "config.steps", 100),
    "Stage.epochs": ("epochs = 2", "epochs = 3", "sft", "config.epochs", 3.0),
    "Stage.seq": (PRE, "tokens = 1M  seq = 64  batch = 16 seqs  lr = 1e-3", "pretrain", "config.seq_len", 64),
    "Stage.batch": (PRE, "tokens = 1M  seq = 128  batch = 32 seqs  lr = 1e-3",
        "pretrain", "config.batch_seqs", 32),
    "Stage.optimizer": (
        PRE,
        "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  optimizer adamw { weight_decay = 0 }",
        "pretrain", "config.optimizer.weight_decay", 0.0),
    "Stage.schedule": ("  schedule cosine { warmup = 10 steps  final = 10% }\n", "",
        "pretrain", "config.schedule.kind", "constant"),
    "Stage.yarn": (YARN, "", "longctx", "config.yarn", None),
    "Stage.doc_mask": (PRE, "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  doc_mask = true",
        "pretrain", "config.doc_mask", True),
    "Stage.seed": (PRE, "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  seed = 7",
        "pretrain", "config.seed", 7),
    "Stage.dpo": _add(DPO_END, "beta = 2") + ("dpo", "config.beta", 2.0),
    "Stage.rlvr": _add(RL_END, "group = 4") + ("rlvr", "config.group", 4),
    "Stage.runtime": (SFT_RT, "runtime { threads = 1 }", "sft", "runtime.threads", 1),
    "OptimizerConfig.lr": (PRE, "tokens = 1M  seq = 128  batch = 16 seqs  lr = 2e-3",
        "pretrain", "config.optimizer.lr", 0.002),
    "OptimizerConfig.betas": (
        PRE,
        "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  optimizer adamw { betas = (0.9, 0.99) }",
        "pretrain", "config.optimizer.betas.1", 0.99),
    "OptimizerConfig.eps": (
        PRE,
        "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  optimizer adamw { eps = 1e-6 }",
        "pretrain", "config.optimizer.eps", 1e-06),
    "OptimizerConfig.weight_decay": (
        PRE,
        "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  optimizer adamw { weight_decay = 0.05 }",
        "pretrain", "config.optimizer.weight_decay", 0.05),
    "OptimizerConfig.clip": (
        PRE,
        "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  optimizer adamw { clip = 0.5 }",
        "pretrain", "config.optimizer.clip", 0.5),
    "OptimizerConfig.z_loss": (PRE, "tokens = 1M  seq = 128  batch = 16 seqs  lr = 1e-3  z_loss = 1e-4",
        "pretrain", "config.optimizer.z_loss", 0.0001),
    "ScheduleSpec.kind": ("schedule cosine", "schedule wsd", "pretrain", "config.schedule.kind", "wsd"),
    "ScheduleSpec.warmup": ("warmup = 10 steps", "warmup = 20 steps",
        "pretrain", "config.schedule.warmup_steps", 20),
    "ScheduleSpec.final": ("final = 10%", "final = 20%", "pretrain", "config.schedule.final", 0.2),
    "ScheduleSpec.decay": _add("final = 10% }", "decay = 20%") + ("pretrain", "config.schedule.decay", 0.2),
    "YarnConfig.factor": (YARN, "yarn { factor = 8  original = 128 }", "longctx", "config.yarn.factor", 8.0),
    "YarnConfig.original_context": (YARN, "yarn { factor = 4  original = 64 }",
        "longctx", "config.yarn.original_context", 64),
    "YarnConfig.beta_fast": _add(YARN, "beta_fast = 16") + ("longctx", "config.yarn.beta_fast", 16.0),
    "YarnConfig.beta_slow": _add(YARN, "beta_slow = 2") + ("longctx", "config.yarn.beta_slow", 2.0),
    "YarnConfig.attention_factor": _add(YARN, "attention_factor = 1.2") + (
        "longctx", "config.yarn.attention_factor", 1.2),
    "YarnConfig.layers": _add(YARN, "layers = all") + ("longctx", "config.yarn.layers", "all"),
    # runtime (the runtime file, outside a stage's identity) and planning figures
    "StageRuntime.gpus": _add(SFT_RT, "gpus = 8") + ("sft", "runtime.nproc_per_node", 8),
    "StageRuntime.nodes": _add(SFT_RT, "gpus = 8  nodes = 2") + ("sft", "runtime.nnodes", 2),
    "StageRuntime.procs_per_node": ("procs_per_node = 2", "procs_per_node = 4",
        "pretrain", "runtime.nproc_per_node", 4),
    "StageRuntime.launcher": _add(SFT_RT, "launcher = slurm") + ("sft", "runtime.launcher", "slurm"),
    "StageRuntime.throughput": _add(SFT_RT, "throughput = 5000 tok/s/gpu") + (
        "sft", "node.throughput", 5000.0),
    "StageRuntime.price": _add(PRE_RT, "price = 3 usd/gpu_hour") + ("pretrain", "node.price", "positive"),
    "StageRuntime.micro_batch": ("micro_batch = 8", "micro_batch = 4", "pretrain", "runtime.micro_batch", 4),
    "StageRuntime.compile": _add(SFT_RT, "compile = true") + ("sft", "runtime.compile", True),
    "StageRuntime.activation_checkpointing": _add(SFT_RT, "activation_checkpointing = true") + (
        "sft", "runtime.activation_checkpointing", True),
    "StageRuntime.device": _add(SFT_RT, "device = cpu") + ("sft", "runtime.device", "cpu"),
    "StageRuntime.threads": (SFT_RT, "runtime { threads = 1 }", "sft", "runtime.threads", 1),
    "StageRuntime.checkpoint_every": _add(SFT_RT, "checkpoint_every = 10") + (
        "sft", "runtime.checkpoint_every", 10),
    "StageRuntime.attention_impl": _add(SFT_RT, "attention_impl = eager") + (
        "sft", "runtime.attention_impl", "eager"),
    "StageRuntime.fused_optimizer": _add(SFT_RT, "fused_optimizer = true") + (
        "sft", "runtime.fused_optimizer", True),
    "StageRuntime.reshard_after_forward": _add(SFT_RT, "reshard_after_forward = false") + (
        "sft", "runtime.reshard_after_forward", False),
    "StageRuntime.fsdp_prefetch": _add(SFT_RT, "fsdp_prefetch = 2") + ("sft", "runtime.fsdp_prefetch", 2),
    "GlobalRuntime.gpu": ('runtime { gpu = "H100" }', 'runtime { gpu = "B200" }',
        "pretrain", "node.gpu", "B200"),
    "GlobalRuntime.price": _add('runtime { gpu = "H100" }', "price = 2 usd/gpu_hour") + (
        "pretrain", "node.price", "positive"),
    # DPO: generation (dpo-pairs), reference log-probs (dpo-ref), training (dpo)
    "DpoSettings.prompts": ("prompts = prompts  pairs", "prompts = hay  pairs",
        "dpo-pairs", "config.prompts.name", "hay"),
    "DpoSettings.pairs": ("prompts = prompts  pairs = delta(chosen = sft, rejected = ext)", "pairs = prefs",
        "dpo-ref", "config.pairs.name", "prefs"),
    "DeltaPairs.chosen": ("chosen = sft", "chosen = pretrain", "dpo-pairs", "config.chosen.name", "pretrain"),
    "DeltaPairs.rejected": ("rejected = ext", "rejected = pretrain",
        "dpo-pairs", "config.rejected.name", "pretrain"),
    "DpoSettings.loss": _add(DPO_END, "loss = dpo") + ("dpo", "config.loss", "dpo"),
    "DpoSettings.beta": _add(DPO_END, "beta = 2") + ("dpo", "config.beta", 2.0),
    "DpoSettings.label_smoothing": _add(DPO_END, "label_smoothing = 10%") + (
        "dpo", "config.label_smoothing", 0.1),
    "DpoSettings.length_control": _add(DPO_END, "length_control = 32 tokens") + (
        "dpo-ref", "config.length_control", 32),
    "DpoSettings.max_pairs": _add(DPO_END, "max_pairs = 100") + ("dpo-pairs", "config.max_pairs", 100),
    "DpoSettings.heldout": _add(DPO_END, "heldout = 20%") + ("dpo-ref", "config.heldout", 0.2),
    "DpoSettings.verify": _add(DPO_END, "verify = true") + ("dpo-pairs", "config.verify", True),
    "DpoSettings.temperature": _add(DPO_END, "temperature = 0.7") + (
        "dpo-pairs", "config.sampling.temperature", 0.7),
    "DpoSettings.top_p": _add(DPO_END, "top_p = 90%") + ("dpo-pairs", "config.sampling.top_p", 0.9),
    "DpoSettings.max_response": _add(DPO_END, "max_response = 64 tokens") + (
        "dpo-pairs", "config.sampling.max_new_tokens", 64),
    "DpoSettings.generator": _add(DPO_END, "generator = vllm") + ("dpo-pairs", "config.generator", "vllm"),
    # RLVR
    "RlvrSettings.prompts": ("prompts = prompts  rewards", "prompts = hay  rewards",
        "rlvr", "config.prompts.name", "hay"),
    "RlvrSettings.rewards": ("rewards = [math]", "rewards = [math, ifeval]",
        "rlvr", "config.rewards.1", "ifeval"),
    "RlvrSettings.template": _add(RL_END, "template = answer") + ("rlvr", "config.template", "answer"),
    "RlvrSettings.group": _add(RL_END, "group = 4") + ("rlvr", "config.group", 4),
    "RlvrSettings.prompts_per_batch": _add(RL_END, "prompts_per_batch = 16") + (
        "rlvr", "config.prompts_per_batch", 16),
    "RlvrSettings.clip": _add(RL_END, "clip = (0.1, 0.3)") + ("rlvr", "config.clip.1", 0.3),
    "RlvrSettings.tis_cap": _add(RL_END, "tis_cap = off") + ("rlvr", "config.tis_cap", None),
    "RlvrSettings.kl": _add(RL_END, "kl = 0.05") + ("rlvr", "config.kl", 0.05),
    "RlvrSettings.advantages": _add(RL_END, "advantages = standard") + (
        "rlvr", "config.advantages", "standard"),
    "RlvrSettings.active_sampling": _add(RL_END, "active_sampling = off") + (
        "rlvr", "config.active_sampling", False),
    "RlvrSettings.refills": _add(RL_END, "refills = 3") + ("rlvr", "config.max_refills", 3),
    "RlvrSettings.retire": _add(RL_END, "retire = off") + ("rlvr", "config.retire_above", None),
    "RlvrSettings.temperature": _add(RL_END, "temperature = 0.7") + ("rlvr", "config.temperature", 0.7),
    "RlvrSettings.max_response": _add(RL_END, "max_response = 64 tokens") + (
        "rlvr", "config.max_response", 64),
    "RlvrSettings.minibatches": _add(RL_END, "minibatches = 2") + ("rlvr", "config.minibatches", 2),
    # containers: the blocks of one kind (the other kinds have a case for their elements' fields)
    "Spec.external_models": ('model ext { path = "ext_model" }', 'model ext { hf = "org/other" }', "dpo-pairs",
                             "config.rejected.path", "org/other"),
    "Spec.stages": ('stage rlvr after dpo {', 'stage rlvr after sft {', "rlvr", "config.init_from", "runs/sft-*"),
    "Spec.tasks": ('"data/math.jsonl"', '"data/math2.jsonl"', "eval-e-pretrain", "config.tasks.0.path",
                   "data/math2.jsonl"),
    "Spec.evals": ("ruler_samples = 4", "ruler_samples = 8", "eval-r-longctx", "config.ruler.samples", 8),
    "Spec.reports": ("columns = [math]", "columns = [math, mc]", "report-main", "config.report.columns.1", "mc"),
    "Spec.runtime": ('runtime { gpu = "H100" }', 'runtime { gpu = "B200" }', "pretrain", "node.gpu", "B200"),
    # tasks and evals
    "Task.type": ("type = multiple_choice", "type = generate",
        "eval-e-pretrain", "config.tasks.1.type", "generate"),
    "Task.path": ('"data/math.jsonl"', '"data/math2.jsonl"',
        "eval-e-pretrain", "config.tasks.0.path", "data/math2.jsonl"),
    "Task.lm_eval": (MATH, 'task math { lm_eval = "gsm8k" }',
        "eval-e-pretrain", "config.tasks.0.lm_eval", "gsm8k"),
    "Task.metric": ("metric = acc", "metric = acc_norm",
        "eval-e-pretrain", "config.tasks.1.metric", "acc_norm"),
    "Task.limit": _add(MATH, "limit = 5") + ("eval-e-pretrain", "config.tasks.0.limit", 5),
    "Task.temperature": _add(MATH, "temperature = 0.6") + (
        "eval-e-pretrain", "config.tasks.0.temperature", 0.6),
    "Task.top_p": _add(MATH, "temperature = 0.6  top_p = 95%") + (
        "eval-e-pretrain", "config.tasks.0.top_p", 0.95),
    "Task.max_response": _add(MATH, "max_response = 48 tokens") + (
        "eval-e-pretrain", "config.tasks.0.max_response", 48),
    "Eval.after": ("eval e after [pretrain, longctx, sft]", "eval e after [pretrain, longctx, sft, dpo]",
        "eval-e-dpo", "exists", True),
    "Eval.tasks": ("tasks = [math, mc]", "tasks = [math]", "eval-e-pretrain", "config.tasks.1.name", None),
    "Eval.ruler": ("ruler = [256]", "ruler = [128]", "eval-r-longctx", "config.ruler.lengths.0", 128),
    "Eval.ruler_tasks": ("ruler = [256]", "ruler = [256]  ruler_tasks = [vt]",
        "eval-r-longctx", "config.ruler.tasks", ["vt"]),
    "Eval.ruler_samples": ("ruler_samples = 4", "ruler_samples = 8",
        "eval-r-longctx", "config.ruler.samples", 8),
    "Eval.haystack": ("haystack = hay  ", "", "eval-r-longctx", "config.ruler.haystack", None),
    "Eval.contamination": ("  contamination = check", "", "eval-e-pretrain", "config.contamination", "off"),
    "Eval.batch": _add(E_END, "batch = 4") + ("eval-e-pretrain", "config.batch", 4),
    "Eval.runtime": _add(E_END, "runtime { device = cpu }") + ("eval-e-pretrain", "runtime.device", "cpu"),
    "EvalRuntime.device": _add(E_END, "runtime { device = cpu }") + (
        "eval-e-pretrain", "runtime.device", "cpu"),
    "EvalRuntime.backend": _add(E_END, "runtime { backend = vllm }") + (
        "eval-e-pretrain", "runtime.backend", "vllm"),
    "EvalRuntime.threads": _add(E_END, "runtime { threads = 1 }") + ("eval-e-pretrain", "runtime.threads", 1),
    "EvalRuntime.gpus": _add(E_END, "runtime { gpus = 2 }") + ("eval-e-pretrain", "runtime.gpus", 2),
    # reports and findings
    "Report.rows": ("report main { columns", "report main { rows = stages  columns",
        "report-main", "config.report.rows", "stages"),
    "Report.columns": ("columns = [math]", "columns = [math, mc]",
        "report-main", "config.report.columns.1", "mc"),
    "Report.baseline": _add("columns = [math] }", "baseline = short") + (
        "report-main", "config.report.baseline", "short"),
    "Report.format": _add("columns = [math] }", "format = [csv]") + (
        "report-main", "config.report.format", ["csv"]),
    "Report.findings": ("  finding f {", "  finding g {",
        "report-claims", "config.report.findings.0.name", "g"),
    "Finding.claim": ('"SFT helps"', '"SFT does not help"',
        "report-claims", "config.report.findings.0.claim", "SFT does not help"),
    "Finding.source": (
        FINDING,
        'source = "a paper"  measure = base.sft  against = base.pretrain  expect = higher }',
        "report-claims", "config.report.findings.0.source", "a paper"),
    "Finding.task": ("task = math  measure", "task = mc  measure",
        "report-claims", "config.report.findings.0.task", "mc"),
    "Finding.metric": (
        FINDING,
        "metric = exact_match  measure = base.sft  against = base.pretrain  expect = higher }",
        "report-claims", "config.report.findings.0.metric", "exact_match"),
    "Finding.items": (
        FINDING,
        "items = clean  measure = base.sft  against = base.pretrain  expect = higher }",
        "report-claims", "config.report.findings.0.items", "clean"),
    "Finding.relative_to": (
        FINDING,
        "items = flagged  relative_to = clean  measure = base.sft  against = base.pretrain  expect = higher }",
        "report-claims", "config.report.findings.0.relative_to", "clean"),
    "Finding.measure": ("measure = base.sft", "measure = base.longctx",
        "report-claims", "config.report.findings.0.measure.stage", "longctx"),
    "Finding.against": ("against = base.pretrain", "against = base.longctx",
        "report-claims", "config.report.findings.0.against.stage", "longctx"),
    "Finding.expect": ("expect = higher", "expect = none",
        "report-claims", "config.report.findings.0.expect", "none"),
    "FindingArm.stage": ("against = base.pretrain", "against = base.longctx",
        "report-claims", "config.report.findings.0.against.stage", "longctx"),
    "FindingArm.variant": ("against = base.pretrain", "against = short.sft",
        "report-claims", "config.report.findings.0.against.variant", "short"),

}
# fmt: on

# cases whose edit names a block the spec does not have: a second tokenizer, an ablation
NEEDS = {
    "Spec.model_tokenizers": TOK2,
    "Stage.tokenizer": TOK2,
    "FindingArm.variant": ABLATION,
    "Report.baseline": ABLATION,
}


def _edit(field: str) -> str:
    old, new = CASES[field][:2]
    assert SPEC.count(old) == 1, f"{field}: {old!r} is not exactly once in SPEC"
    return SPEC.replace(old, new) + NEEDS.get(field, "")


@cache
def _graph(text: str) -> Graph:
    return build_graph(load_text(text, "fields.ospec"), Path("."))


def _node(g: Graph, where: str):
    if where.startswith("kind:"):
        (n,) = [n for n in g.nodes.values() if n.kind == where[5:]]
        return n
    found = [n for n in g.nodes.values() if n.label == where and ("base" in n.variants or n.kind == "report")]
    return found[0] if found else None


def _value(g: Graph, where: str, path: str):
    n = _node(g, where)
    if path == "exists":
        return n is not None
    head, *rest = path.split(".")
    cur: Any = {"config": n.config, "runtime": n.runtime}.get(head) if head != "node" else None
    if head == "node":
        cur, rest = getattr(n, rest[0]), rest[1:]
    for part in rest:
        if isinstance(cur, list):
            i = int(part)
            cur = cur[i] if i < len(cur) else None
        elif isinstance(cur, dict):
            cur = cur.get(part)
        if cur is None:
            return None
    return cur


def _matches(got, want) -> bool:
    if want == "positive":
        return isinstance(got, float) and got > 0
    if isinstance(want, str) and want.endswith("*"):
        return isinstance(got, str) and got.startswith(want[:-1])
    if isinstance(want, float) and isinstance(got, float):
        return got == pytest.approx(want)
    return got == want


@pytest.mark.parametrize("field", sorted(CASES))
def test_field_reaches_the_stage_that_reads_it(field):
    _, _, where, path, want = CASES[field]
    base, edited = _value(_graph(SPEC), where, path), _value(_graph(_edit(field)), where, path)
    assert _matches(edited, want), f"{field}: {where} {path} is {edited!r} after the edit, expected {want!r}"
    assert not _matches(base, want), f"{field}: {where} {path} is already {base!r} without the edit"
