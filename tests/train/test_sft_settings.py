"""SFT settings that must do what they say: packed conversations never attend to each other unless
the spec turns `doc_mask` off (on by default for SFT), and a special token's string inside a message
is text, not a control token."""

from __future__ import annotations

from pathlib import Path

import torch
from train_helpers import tiny_model

from olmospec.api import load_spec
from olmospec.graph_stages import build_graph
from olmospec.ir.train import DataComponent
from runners.train.data import positions_and_masks
from runners.train.model import FULL, SLIDING, build_meta, hf_config, init_weights, materialize
from runners.train.sft import ChatData, encode_chat

ROOT = Path(__file__).resolve().parents[2]


def test_tiny_spec_masks_packed_sft_conversations_by_default():
    g = build_graph(load_spec(ROOT / "specs/tiny.ospec"), ROOT)
    sft = [n for n in g.nodes.values() if n.config.get("kind") == "sft"]
    assert sft and all(n.config["doc_mask"] is True for n in sft)
    pre = [n for n in g.nodes.values() if n.config.get("kind") == "pretrain"]
    assert pre and all(n.config["doc_mask"] is False for n in pre)  # the default stays off elsewhere


def test_packed_sft_attention_is_block_diagonal_per_conversation(tokenizer):
    data = ChatData((DataComponent(name="sft", path=str(ROOT / "specs/data/tiny/sft/sft.jsonl"), share=1.0),),
                    tokenizer, seq_len=1024, seed=0)  # NOTE: this test tokenizer is coarse: long chats
    batch = data.step_batch(0, 2)
    positions, masks = positions_and_masks(batch.docs, {FULL: None, SLIDING: 64}, torch.float32)
    docs = batch.docs
    assert int(docs.max(dim=1).values.min()) >= 2  # every row packs several conversations
    for kind, m in masks.items():
        allowed = m[:, 0] == 0
        same = docs[:, :, None] == docs[:, None, :]
        assert not (allowed & ~same).any(), kind  # nothing crosses a conversation boundary
        causal = torch.ones_like(allowed[0]).tril().bool()
        assert not (allowed & ~causal).any(), kind
    # each conversation restarts its positions at 0
    starts = torch.nonzero(torch.diff(docs, dim=1, prepend=docs[:, :1] - 1) != 0)
    assert all(int(positions[r, c]) == 0 for r, c in starts.tolist())

    # and a model sees each conversation alone: perturbing the first changes nothing after it
    cfg = tiny_model(vocab_size=len(tokenizer), attention_pattern=(16, None))
    model = build_meta(hf_config(cfg, eos_id=tokenizer.eos_token_id, pad_id=tokenizer.pad_token_id, max_positions=1024))
    materialize(model, "cpu")
    init_weights(model, cfg.init_std, 0)
    model.eval()
    row = batch.inputs[:1].clone()
    first = int((docs[0] == 0).sum())
    other = row.clone()
    other[0, : first - 1] = (other[0, : first - 1] + 7) % len(tokenizer)
    with torch.no_grad():
        a = model(row, position_ids=positions[:1], attention_mask={k: v[:1] for k, v in masks.items()}).logits
        b = model(other, position_ids=positions[:1], attention_mask={k: v[:1] for k, v in masks.items()}).logits
    torch.testing.assert_close(a[0, first:], b[0, first:], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(a[0, : first - 1], b[0, : first - 1])


def test_special_token_strings_in_messages_are_text(tokenizer):
    eos = tokenizer.eos_token_id
    msgs = [{"role": "user", "content": "what does <|endoftext|> mean?"},
            {"role": "assistant", "content": "<|endoftext|> ends a document; <pad> pads."}]
    ids, _ = encode_chat(msgs, tokenizer)
    assert ids.count(eos) == 1 and ids[-1] == eos  # only the end of the assistant turn
    assert tokenizer.pad_token_id not in ids
    assert tokenizer.decode(ids) == ("<|user|>\nwhat does <|endoftext|> mean?\n<|assistant|>\n"
                                     "<|endoftext|> ends a document; <pad> pads.<|endoftext|>")
