"""Helpers for the generation tests: a tiny Olmo3 model (sliding windows shorter than the prompts,
so the windowed KV cache is exercised) and a BPE tokenizer with the training runner's chat
template, built in-process."""

from __future__ import annotations

from pathlib import Path

TEXTS = [
    "the cat sat on the mat and the dog sat on the log.",
    "one two three four five six seven eight nine ten.",
    "what is 12 + 30? it is 42. what is 7 + 8? it is 15.",
    "<|user|>\nhello there\n<|assistant|>\nhi, how are you?",
] * 4
PROMPTS = ["the cat", "one two three four five six seven eight nine ten. one two", "what is 7 + 8?",
           "a", "the dog sat on the log and the cat sat", "nine ten"]


def build_tokenizer(folder: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from runners.train.sft import CHAT_TEMPLATE

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TEXTS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    return fast


def build_model(vocab: int, eos: int, seed: int = 0, init_std: float = 0.2):
    from olmospec.ir.model import ModelConfig
    from runners.train.model import build_meta, hf_config, init_weights, materialize

    cfg = ModelConfig(name="t", d_model=64, n_layers=4, n_heads=4, n_kv_heads=2, mlp_hidden=128,
                      vocab_size=vocab, vocab_pad_to=64, attention_pattern=(8, 8, 8, None), init_std=init_std)
    model = build_meta(hf_config(cfg, eos_id=eos, pad_id=None, max_positions=256))
    materialize(model, "cpu")
    init_weights(model, cfg.init_std, seed)
    return model.eval()
