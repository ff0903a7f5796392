"""Token shards, source mixing, packing, document masking and the SFT loss mask."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from train_helpers import tiny_model, write_shard

from olmospec.ir.train import DataComponent
from runners.train.data import (
    IGNORE,
    Mixture,
    Shard,
    Source,
    documents_from_eos,
    micro_batches,
    positions_and_masks,
    pretrain_batch,
    rank_rows,
)
from runners.train.model import FULL, SLIDING, build_meta, hf_config, init_weights, materialize
from runners.train.sft import ChatData, encode_chat


def test_shard_round_trip_and_validation(tmp_path):
    folder = write_shard(tmp_path / "s", [[5, 6, 7], [8], [9, 10]], eos_id=1, vocab_size=20)
    shard = Shard.open(folder)
    assert shard.document(0).tolist() == [5, 6, 7, 1] and shard.document(2).tolist() == [9, 10, 1]
    np.save(folder / "offsets.npy", np.array([0, 4, 6], dtype=np.int64))
    with pytest.raises(ValueError, match="offsets.npy"):
        Shard.open(folder)


def test_empty_shard_is_read_and_contributes_nothing(tmp_path):
    write_shard(tmp_path / "src" / "a", [list(range(2, 40))], eos_id=1, vocab_size=64)
    write_shard(tmp_path / "src" / "b", [], eos_id=1, vocab_size=64)
    src = Source(DataComponent(name="s", path=str(tmp_path / "src"), share=1.0), seq_len=8)
    assert len(src.shards) == 2 and src.n_instances == 39 // 8


def test_instances_tile_the_stream(tmp_path):
    """Instance k is tokens [k*L, k*L + L + 1): consecutive instances overlap by one token."""
    folder = write_shard(tmp_path / "s", [list(range(2, 40))], eos_id=1, vocab_size=64)
    src = Source(DataComponent(name="s", path=str(folder), share=1.0), seq_len=8)
    stream = np.fromfile(folder / "tokens.bin", dtype="<u2")
    assert src.n_instances == (len(stream) - 1) // 8
    for k in range(src.n_instances):
        assert src.instance(k).tolist() == stream[k * 8 : k * 8 + 9].tolist()


def _mixture(shards, seed=0, shares=(0.75, 0.25)):
    sources = [
        Source(DataComponent(name=n, path=str(shards[n]), share=s), 32) for n, s in zip(shards, shares)
    ]
    return Mixture(sources, list(shares), seed)


def test_mixture_is_deterministic_resumable_and_follows_shares(shards):
    a, b = _mixture(shards), _mixture(shards)
    batches = [a.step_batch(s, 16) for s in range(30)]
    for s in range(30):
        assert np.array_equal(b.step_batch(s, 16), batches[s])
    # the state after 30 steps, recomputed from (seed, step) alone, continues identically
    c = _mixture(shards)
    c.replay(30, 16)
    assert c.state_dict() == a.state_dict()
    assert np.array_equal(c.step_batch(30, 16), a.step_batch(30, 16))
    drawn = np.array(a.state_dict()["drawn"])
    assert abs(drawn[0] / drawn.sum() - 0.75) < 0.05
    assert not np.array_equal(_mixture(shards, seed=1).step_batch(0, 16), batches[0])


def test_rank_slices_make_up_the_global_batch(shards):
    full = _mixture(shards).step_batch(0, 8)
    parts = []
    for rank in range(4):
        lo, hi = rank_rows(8, rank, 4)
        parts.append(_mixture(shards).step_batch(0, 8, lo, hi))
    assert np.array_equal(np.concatenate(parts), full)
    batch = pretrain_batch(full, eos_id=1)
    assert torch.equal(batch.inputs[:, 1:], batch.targets[:, :-1])
    assert [len(m) for m in micro_batches(batch, 2)] == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="micro_batch"):
        micro_batches(batch, 3)


def test_documents_and_positions_restart_after_eos():
    inputs = torch.tensor([[5, 6, 1, 7, 1, 8, 9]])
    docs = documents_from_eos(inputs, eos_id=1)
    assert docs.tolist() == [[0, 0, 0, 1, 1, 2, 2]]
    positions, masks = positions_and_masks(docs, {FULL: None, SLIDING: 2}, torch.float32)
    assert positions.tolist() == [[0, 1, 2, 0, 1, 0, 1]]
    allowed = masks[FULL][0, 0] == 0
    assert allowed[2].tolist() == [True, True, True, False, False, False, False]
    assert allowed[4].tolist() == [False, False, False, True, True, False, False]
    assert (masks[SLIDING][0, 0] == 0)[2].tolist() == [False, True, True, False, False, False, False]


def test_document_masking_makes_packed_documents_independent():
    """A packed row with doc masking gives each document the logits it would get alone."""
    cfg = tiny_model(attention_pattern=(4, None))
    model = build_meta(hf_config(cfg, eos_id=1, pad_id=0, max_positions=64))
    materialize(model, "cpu")
    init_weights(model, cfg.init_std, 0)
    model.eval()
    g = torch.Generator().manual_seed(0)
    d1, d2 = torch.randint(2, 300, (9,), generator=g), torch.randint(2, 300, (7,), generator=g)
    d1[-1] = 1
    packed = torch.cat([d1, d2])[None]
    positions, masks = positions_and_masks(
        documents_from_eos(packed, 1), {FULL: None, SLIDING: 4}, torch.float32
    )
    with torch.no_grad():
        together = model(packed, position_ids=positions, attention_mask=masks).logits[0]
        alone1, alone2 = model(d1[None]).logits[0], model(d2[None]).logits[0]
        plain = model(packed).logits[0]
    torch.testing.assert_close(together[:9], alone1, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together[9:], alone2, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(plain[9:], alone2, atol=1e-3)  # without the mask, doc 2 sees doc 1


def test_sft_loss_covers_only_assistant_tokens(tokenizer, tmp_path):
    msgs = [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "what is 2 + 3?"},
        {"role": "assistant", "content": "it is 5."},
        {"role": "user", "content": "and 4 + 4?"},
        {"role": "assistant", "content": "8."},
    ]
    ids, train = encode_chat(msgs, tokenizer)
    trained = [i for i, t in zip(ids, train) if t]
    eos = tokenizer.eos_token_id
    expected = tokenizer("it is 5.")["input_ids"] + [eos] + tokenizer("8.")["input_ids"] + [eos]
    assert trained == expected
    assert (
        tokenizer.decode(ids) == "<|system|>\nbe brief\n<|user|>\nwhat is 2 + 3?\n<|assistant|>\nit is 5."
        "<|endoftext|><|user|>\nand 4 + 4?\n<|assistant|>\n8.<|endoftext|>"
    )

    path = tmp_path / "chat.jsonl"
    lines = [
        json.dumps({"id": "a", "messages": msgs}),
        "not json",
        json.dumps({"id": "b", "messages": []}),
        json.dumps({"id": "c", "messages": msgs[:2]}),
    ]
    path.write_text("\n".join(lines) + "\n")
    assert len(ids) < 128
    data = ChatData((DataComponent(name="c", path=str(path), share=1.0),), tokenizer, seq_len=128, seed=0)
    assert data.stats()["truncated"] == 0
    assert data.stats()["skipped"] == {"invalid_json": 1, "no_assistant_turn": 1, "no_messages": 1}
    inputs, targets, _ = data.row(0)
    # every target is the next input token, and the targets are exactly the assistant tokens
    n = len(ids)
    assert inputs[:n].tolist() == ids
    kept = targets[targets != IGNORE].tolist()
    assert kept == expected
    assert all(targets[j] in (IGNORE, inputs[j + 1]) for j in range(n - 1))
    assert (targets[n - 1 :] == IGNORE).all() and (inputs[n:] == tokenizer.pad_token_id).all()


def test_sft_rows_are_a_pure_function_of_seed_and_index(tokenizer, chats):
    comp = (DataComponent(name="c", path=str(chats), share=1.0),)
    a = ChatData(comp, tokenizer, seq_len=64, seed=0)
    b = ChatData(comp, tokenizer, seq_len=64, seed=0)
    n = a.rows_per_epoch
    for k in (n + 3, 0, 2 * n + 1):  # out of order, across epochs
        assert all(np.array_equal(x, y) for x, y in zip(a.row(k), b.row(k), strict=True))
    assert a.steps(epochs=2.0, batch_seqs=4) == -(-2 * n // 4)
