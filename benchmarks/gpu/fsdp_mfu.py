"""Tokens/s and MFU of a ~1B OLMo-3-style model trained with FSDP2 + torch.compile in bf16 on one GPU.

    python benchmarks/gpu/fsdp_mfu.py                 # on the GPU machine: prints one JSON object
    python benchmarks/gpu/fsdp_mfu.py --smoke         # CPU, tiny model, no compile: checks the script runs

Synthetic data (uniform random tokens), so the figure is the training step alone: the model and the
parallelization are the runner's (transformers' Olmo3ForCausalLM on meta, `fully_shard` per decoder
layer then the root, bf16 params with fp32 reductions, per-layer `compile()`), timed after warm-up
steps that absorb compilation. Self-contained on purpose: the GPU machine has torch 2.11 and
transformers 5.17 but no registry, so neither olmospec (pydantic, lark) nor the runner's config
types are imported; `flops_per_token` mirrors `olmospec.arch.flops_per_token` (a test checks they
agree). Budget: under 5 minutes including compilation.
"""

from __future__ import annotations

import argparse
import json
import socket
import time

import torch

PEAK_BF16_FLOPS = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "B200": 2250e12}

# ~1.2B parameters: OLMo-2-1B widths with OLMo 3's attention pattern (3 sliding + 1 full) and vocabulary
GPU_SHAPE = {
    "d_model": 2048,
    "n_layers": 16,
    "n_heads": 16,
    "n_kv_heads": 16,
    "mlp_hidden": 8192,
    "vocab": 100352,
    "window": 4096,
    "seq_len": 8192,
    "micro_batch": 2,
    "warmup": 3,
    "steps": 10,
}
SMOKE_SHAPE = {
    "d_model": 64,
    "n_layers": 4,
    "n_heads": 4,
    "n_kv_heads": 2,
    "mlp_hidden": 128,
    "vocab": 512,
    "window": 32,
    "seq_len": 128,
    "micro_batch": 2,
    "warmup": 1,
    "steps": 2,
}


def layer_windows(n_layers: int, window: int) -> list[int | None]:
    return [None if (i + 1) % 4 == 0 else window for i in range(n_layers)]


def flops_per_token(s: dict) -> int:
    """6N (matmul weights incl. LM head, excl. input embedding) + 12 * heads * head_dim * ctx per layer."""
    d, hd = s["d_model"], s["d_model"] // s["n_heads"]
    layer = d * s["n_heads"] * hd * 2 + 2 * d * s["n_kv_heads"] * hd + 3 * d * s["mlp_hidden"]
    n = s["n_layers"] * layer + s["vocab"] * d
    attn = sum(
        12 * s["n_heads"] * hd * (s["seq_len"] if w is None else min(w, s["seq_len"]))
        for w in layer_windows(s["n_layers"], s["window"])
    )
    return 6 * n + attn


def build(s: dict, attn: str):
    from transformers import Olmo3Config, Olmo3ForCausalLM

    windows = layer_windows(s["n_layers"], s["window"])
    # NOTE: RoPE is left at the class default (theta 500k in 5.x, per layer type): throughput does not
    # depend on it, and the shape of `rope_parameters` has changed between 5.x releases.
    cfg = Olmo3Config(
        vocab_size=s["vocab"],
        hidden_size=s["d_model"],
        intermediate_size=s["mlp_hidden"],
        num_hidden_layers=s["n_layers"],
        num_attention_heads=s["n_heads"],
        num_key_value_heads=s["n_kv_heads"],
        max_position_embeddings=s["seq_len"],
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        eos_token_id=0,
        pad_token_id=1,
        bos_token_id=None,
        sliding_window=s["window"],
        layer_types=["full_attention" if w is None else "sliding_attention" for w in windows],
        use_cache=False,
        attn_implementation=attn,
    )
    with torch.device("meta"):
        return Olmo3ForCausalLM(cfg)


def parallelize(model, device: torch.device, dtype: torch.dtype, compile: bool):
    """Compile each block, then shard each block, then the root (same order as runners.train.parallel)."""
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    if compile:
        for layer in model.model.layers:
            layer.compile()
    mesh = init_device_mesh(device.type, (1,))
    mp = MixedPrecisionPolicy(param_dtype=dtype, reduce_dtype=torch.float32)
    for layer in model.model.layers:
        fully_shard(layer, mesh=mesh, mp_policy=mp)
    fully_shard(model, mesh=mesh, mp_policy=mp)
    model.to_empty(device=device)
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim == 1:
                p.fill_(1.0)
            else:
                torch.nn.init.trunc_normal_(p, std=0.02, a=-0.06, b=0.06)
        rot = model.model.rotary_emb
        fresh = type(rot)(model.config, device=device)
        for name, buf in fresh.named_buffers():
            getattr(rot, name).copy_(buf)
    return model


def measure(s: dict, device: torch.device, dtype: torch.dtype, compile: bool, attn: str) -> dict:
    """Build, warm up (compilation happens here), then time `steps` training steps."""
    t_build = time.perf_counter()
    model = parallelize(build(s, attn), device, dtype, compile)
    opt = torch.optim.AdamW(
        model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1, fused=device.type == "cuda"
    )
    g = torch.Generator(device=device).manual_seed(0)

    def step() -> float:
        x = torch.randint(0, s["vocab"], (s["micro_batch"], s["seq_len"] + 1), device=device, generator=g)
        logits = model(input_ids=x[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), x[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()  # syncs the device, so wall time below is complete

    for _ in range(s["warmup"]):
        step()
    warm_s = time.perf_counter() - t_build
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t = time.perf_counter()
    losses = [step() for _ in range(s["steps"])]
    dt = time.perf_counter() - t
    tokens_per_s = s["steps"] * s["micro_batch"] * s["seq_len"] / dt
    fpt = flops_per_token(s)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    peak = (
        next((v for k, v in PEAK_BF16_FLOPS.items() if k in name), None) if dtype == torch.bfloat16 else None
    )
    return {
        "device": name,
        "compile": compile,
        "params": sum(p.numel() for p in model.parameters()),
        "flops_per_token": fpt,
        "build_and_warmup_s": round(warm_s, 1),
        "step_s": dt / s["steps"],
        "tokens_per_s": tokens_per_s,
        "mfu": (fpt * tokens_per_s / peak) if peak else None,
        "peak_mem_gb": torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else None,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", "--dry-run", action="store_true", help="tiny model on CPU, fp32, no compile")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument(
        "--attn", default="sdpa", help="transformers attention implementation (sdpa, flex_attention)"
    )
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    import torch.distributed as dist

    s = dict(SMOKE_SHAPE if args.smoke else GPU_SHAPE)
    if args.steps:
        s["steps"] = args.steps
    device = torch.device("cpu") if args.smoke else torch.device("cuda", 0)
    dtype = torch.float32 if args.smoke else torch.bfloat16
    compile = not (args.smoke or args.no_compile)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dist.init_process_group(
        "gloo" if device.type == "cpu" else "nccl",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=0,
        world_size=1,
    )
    result = {}
    try:
        result = measure(s, device, dtype, compile, args.attn)
    except Exception as e:  # an unattended GPU run should still report, without compile
        if not compile:
            raise
        result = measure(s, device, dtype, False, args.attn)
        result["compile_error"] = f"{type(e).__name__}: {e}"[:500]
    import transformers

    print(
        json.dumps(
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "attn": args.attn,
                "dtype": str(dtype).removeprefix("torch."),
                "seq_len": s["seq_len"],
                "micro_batch": s["micro_batch"],
                "steps": s["steps"],
                **result,
            },
            indent=2,
        )
    )
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
