"""A tiny HF export like the training runner's `runs/<stage>/hf`: an Olmo3 model with random weights
(seeded), a byte-level BPE tokenizer trained in-process on the tiny spec's evaluation text, and
optionally the SFT chat template. Scores of such a model are near zero; the tests that use it check
plumbing, determinism and parity, not quality."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EVALS = REPO / "specs/data/tiny/evals"


def _texts() -> list[str]:
    out = []
    for name in ("math", "mc", "ifeval"):
        for line in (EVALS / f"{name}.jsonl").read_text().splitlines():
            rec = json.loads(line)
            out.append(rec.get("question") or rec.get("prompt"))
    return out


def export_tiny_model(folder: Path, *, chat: bool = False, max_positions: int = 1100, seed: int = 0) -> Path:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Olmo3Config, Olmo3ForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|pad|>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|system|>"]
    trainer = trainers.BpeTrainer(vocab_size=512, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_texts(), trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>",
                                   additional_special_tokens=specials[2:])
    if chat:
        from runners.train.sft import CHAT_TEMPLATE

        fast.chat_template = CHAT_TEMPLATE
    torch.manual_seed(seed)
    cfg = Olmo3Config(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=max_positions,
                      pad_token_id=fast.pad_token_id, bos_token_id=None, eos_token_id=fast.eos_token_id,
                      tie_word_embeddings=False, sliding_window=64, layer_types=["sliding_attention", "full_attention"],
                      rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                       "full_attention": {"rope_type": "default", "rope_theta": 10000.0}})
    model = Olmo3ForCausalLM(cfg)
    model.save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder
