"""The training runner: pretrain, midtrain, longctx and sft stages of an OLMo-3-style flow.

    python -m runners.train --config runs/<stage-id>/config.json

reads a `TrainConfig` (olmospec/ir/train.py), builds transformers' `Olmo3ForCausalLM` from the
`ModelConfig`, shards it with FSDP2 when there is more than one process (torchrun, gloo on CPU, NCCL
on CUDA), trains from token shards (or chat jsonl for SFT), checkpoints atomically with
torch.distributed.checkpoint so a killed run resumes bit-for-bit, and ends with an HF export
(`<output>/hf/`), `metrics.json`, `plots/train.csv` and `receipt.json`.

One concept per module: `model` (HF config + deterministic init), `parallel` (FSDP2), `launch`
(torchrun re-exec, process group), `data` (token shards, mixing, packing), `sft` (chat records),
`optim` (AdamW groups, schedules, loss), `checkpoint` (DCP + HF export), `metrics`, `loop` (`run`).
"""
