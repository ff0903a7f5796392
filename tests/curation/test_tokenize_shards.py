"""Tokenizer and token shards: round trips, single-digit tokens, transformers loading, determinism."""

from __future__ import annotations

import hashlib
import json
import os
from itertools import pairwise
from types import SimpleNamespace

import numpy as np
import pytest
from realtext import code_files, prose

from runners.curation.tokenize import (
    EOS,
    FIM_TOKENS,
    SPECIAL_TOKENS,
    TokenShard,
    _from_transformers,
    load_tokenizer,
    train_tokenizer,
    write_shard,
)

MULTIBYTE = [
    "naïve café — “quotes” and 日本語のテキスト, 中文,한국어, emoji 🙂👍🏽 and a ZWJ family 👨‍👩‍👧.",
    "Ünïcödé at the start\nand tabs\tand trailing spaces   ",
    "",
    "123 + 4567 = 4690; π ≈ 3.14159",
    "<|fim_prefix|>def f():<|fim_suffix|>\n    return 1<|fim_middle|>    x = 2\n",
]


@pytest.fixture(scope="module")
def corpus() -> list[str]:
    return list(prose()[:1500]) + [c[:4000] for c in code_files()[:60]] + MULTIBYTE


@pytest.fixture(scope="module")
def tok_dir(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    train_tokenizer(corpus, vocab_size=2000, min_frequency=2, out_dir=out)
    return out


def test_special_tokens_and_single_digits(tok_dir):
    tok = load_tokenizer(tok_dir)
    assert tok.eos_id == 0 and tok.backend.id_to_token(tok.pad_id) == "<|pad|>"
    for t in SPECIAL_TOKENS:
        assert tok.backend.encode(f"a {t} b", add_special_tokens=False).tokens.count(t) == 1
    enc = tok.backend.encode("In 2024, 1234567890 items cost $99.95", add_special_tokens=False)
    digit_tokens = [t for t in enc.tokens if any(c.isdigit() for c in t)]
    assert digit_tokens and all(len(t) == 1 for t in digit_tokens)
    assert "".join(digit_tokens) == "2024123456789099" + "95"


def test_digits_merge_only_when_asked(corpus):
    merged = train_tokenizer(corpus[:800] + ["2024 2024 1999 1999 2025"] * 50, vocab_size=1200,
                             split_digits=False)
    tokens = merged.backend.encode("In 2024 and 1999", add_special_tokens=False).tokens
    assert any(sum(c.isdigit() for c in t) > 1 for t in tokens)


def test_shard_round_trip_and_format(tok_dir, corpus, tmp_path):
    tok = load_tokenizer(tok_dir)
    docs = [{"id": f"d{i}", "text": t} for i, t in enumerate(corpus)]
    meta = write_shard(docs, tok, tmp_path / "shard", source="mixed", batch_size=64)
    shard = TokenShard(tmp_path / "shard")
    assert len(shard) == len(docs) == meta["n_docs"]
    assert shard.n_tokens == meta["n_tokens"] == os.path.getsize(tmp_path / "shard" / "tokens.bin") // 2
    assert meta["dtype"] == "uint16" and meta["eos_id"] == 0 and meta["source"] == "mixed"
    ids = "".join(f"d{i}\n" for i in range(len(docs))).encode()
    assert meta["doc_ids_sha256"] == hashlib.sha256(ids).hexdigest()
    assert json.loads((tmp_path / "shard" / "meta.json").read_text()) == meta
    offsets = np.load(tmp_path / "shard" / "offsets.npy")
    assert offsets.dtype == np.int64 and offsets[0] == 0 and len(offsets) == len(docs) + 1
    raw = np.fromfile(tmp_path / "shard" / "tokens.bin", dtype="<u2")
    for i, doc in enumerate(docs):
        ids_i = shard.doc(i)
        assert ids_i[-1] == tok.eos_id and tok.eos_id not in ids_i[:-1].tolist()
        assert np.array_equal(raw[offsets[i] : offsets[i + 1]], ids_i)
        assert tok.decode(ids_i[:-1]) == doc["text"]
    specials = {tok.backend.token_to_id(t) for t in SPECIAL_TOKENS}
    for i in range(len(docs)):  # special-token strings in a text are text: only EOS is special
        assert not specials & set(shard.doc(i)[:-1].tolist())


def test_special_token_strings_in_text_and_fim_structure(tok_dir, tmp_path):
    from runners.curation.fim import apply_fim, render

    tok = load_tokenizer(tok_dir)
    text = "def f():\n    return '<|endoftext|>' + '<|fim_middle|>' + '<|user|>'\n"
    fim = apply_fim([{"id": "f", "text": text}], rate=1.0, seed=1).kept[0]
    docs = [{"id": "plain", "text": text}, fim]
    write_shard(docs, tok, tmp_path / "s", "x")
    shard = TokenShard(tmp_path / "s")
    plain, rewritten = shard.doc(0).tolist(), shard.doc(1).tolist()
    assert plain.count(tok.eos_id) == 1 and plain[-1] == tok.eos_id  # one document, not four
    assert tok.decode(plain[:-1]) == text
    sentinel = {t: tok.backend.token_to_id(t) for t in FIM_TOKENS}
    for t, i in sentinel.items():
        assert rewritten.count(i) == 1, t  # the inserted sentinels only, not the one in the text
    assert tok.decode(rewritten[:-1]) == render(fim)
    order = [t for t in rewritten if t in sentinel.values()]
    want = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"] if fim["fim"]["order"] == "psm" else \
        ["<|fim_suffix|>", "<|fim_prefix|>", "<|fim_middle|>"]
    assert order == [sentinel[t] for t in want]


def test_repeated_documents_are_spread_apart(tok_dir, corpus, tmp_path):
    from runners.curation.order import min_copy_gap

    tok = load_tokenizer(tok_dir)
    docs = [{"id": f"d{i}", "text": t, "repeat": 7 if i < 5 else (2 if i % 3 == 0 else 1)}
            for i, t in enumerate(corpus[:400])]
    meta = write_shard(docs, tok, tmp_path / "s", "x", spread=256, seed=3)
    shard = TokenShard(tmp_path / "s")
    assert meta["n_docs"] == sum(d["repeat"] for d in docs)
    lengths = [len(tok.backend.encode(d["text"], add_special_tokens=False).ids) + 1 for d in docs]
    first = {tuple(shard.doc(i).tolist()): [] for i in range(len(shard))}
    for i in range(len(shard)):
        first[tuple(shard.doc(i).tolist())].append(int(shard.offsets[i]))
    for d, n in zip(docs, lengths, strict=True):
        ids = tuple(tok.backend.encode(d["text"], add_special_tokens=False).ids) + (tok.eos_id,)
        starts = sorted(first[ids])
        assert len(starts) == d["repeat"]
        assert all(b - (a + n) >= 256 for a, b in pairwise(starts)), d["id"]
    again = write_shard(docs, tok, tmp_path / "t", "x", spread=256, seed=3)
    assert (tmp_path / "s/tokens.bin").read_bytes() == (tmp_path / "t/tokens.bin").read_bytes()
    assert again == meta
    assert min_copy_gap(np.arange(3), np.ones(3)) is None


def test_shards_are_byte_identical_across_runs(corpus, tmp_path):
    digests = []
    for run in range(2):
        tok = train_tokenizer(corpus[:400], vocab_size=800, out_dir=tmp_path / f"tok{run}")
        write_shard(({"id": str(i), "text": t} for i, t in enumerate(corpus)), tok, tmp_path / f"s{run}", "x")
        digests.append([hashlib.sha256((tmp_path / f"s{run}" / f).read_bytes()).hexdigest()
                        for f in ("tokens.bin", "offsets.npy", "meta.json")])
        tok_json = (tmp_path / f"tok{run}" / "tokenizer.json").read_bytes()
        digests[-1].append(hashlib.sha256(tok_json).hexdigest())
    assert digests[0] == digests[1]


def test_large_vocabularies_use_uint32(tok_dir, tmp_path):
    base = load_tokenizer(tok_dir)
    big = SimpleNamespace(backend=base.backend, eos_id=base.eos_id, pad_id=base.pad_id, vocab_size=100_000)
    meta = write_shard([{"id": "a", "text": MULTIBYTE[0]}], big, tmp_path / "s32", "x")
    shard = TokenShard(tmp_path / "s32")
    assert meta["dtype"] == "uint32" and shard.tokens.dtype == np.dtype("<u4")
    assert os.path.getsize(tmp_path / "s32" / "tokens.bin") == 4 * shard.n_tokens
    assert base.decode(shard.doc(0)[:-1]) == MULTIBYTE[0]


def test_empty_shard_and_missing_meta(tok_dir, tmp_path):
    tok = load_tokenizer(tok_dir)
    write_shard([], tok, tmp_path / "empty", "none")
    shard = TokenShard(tmp_path / "empty")
    assert len(shard) == 0 and shard.n_tokens == 0
    with pytest.raises(FileNotFoundError):
        TokenShard(tmp_path / "nothing")


def test_transformers_loads_the_folder(tok_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    transformers = pytest.importorskip("transformers")
    fast = transformers.PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"))
    auto = transformers.AutoTokenizer.from_pretrained(str(tok_dir))
    assert auto.eos_token == EOS and auto.pad_token == "<|pad|>"
    text = MULTIBYTE[0] + " 42"
    ours = load_tokenizer(tok_dir).backend.encode(text, add_special_tokens=False).ids
    assert fast.encode(text, add_special_tokens=False) == ours
    assert auto.encode(text, add_special_tokens=False) == ours
    assert auto.decode(ours) == text
    via_auto = _from_transformers(str(tok_dir))
    assert via_auto.eos_id == auto.eos_token_id == 0
    assert via_auto.backend.encode(text, add_special_tokens=False).ids == ours
