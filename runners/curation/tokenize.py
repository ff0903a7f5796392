"""Tokenizer training and token shards (the tokenize -> mix -> train contract in docs/CONTRACTS.md).

`train_tokenizer` trains a byte-level BPE with HF `tokenizers` in which every digit is its own token
(a `Digits(individual_digits=True)` pre-tokenizer before `ByteLevel`, as in Llama and OLMo), so BPE
never merges numbers into arbitrary chunks. Special tokens: `<|endoftext|>` (EOS), `<|pad|>`, the FIM
sentinels and the chat role tokens. No normalizer runs, so decoding a document gives back its text
byte for byte. The result is saved as a folder `transformers` can load (`tokenizer.json`,
`tokenizer_config.json`, `special_tokens_map.json`); `load_tokenizer` reads such a folder, or any
local path / hub id through `AutoTokenizer` (imported only then, since it pulls in transformers).

`write_shard` encodes documents in batches (`encode_batch`, the Rust tokenizer's own threads) and
writes each document followed by EOS to `tokens.bin`; `offsets.npy` marks the boundaries and
`meta.json` is written last, so its presence means the shard is complete. Document text is always
encoded as text (`encode_special_tokens`): only EOS after each document and the sentinels of a FIM
document are special ids. Upsampled copies are spread apart (runners/curation/order.py).
`TokenShard` memory-maps a shard for the training runner.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

EOS = "<|endoftext|>"
PAD = "<|pad|>"
FIM_TOKENS = ("<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>")
CHAT_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (EOS, PAD, *FIM_TOKENS, *CHAT_TOKENS)


@dataclass(frozen=True, slots=True)
class LoadedTokenizer:
    """A `tokenizers.Tokenizer` and the ids the shard format needs."""

    backend: Any  # tokenizers.Tokenizer
    eos_id: int
    pad_id: int | None

    @property
    def vocab_size(self) -> int:
        return self.backend.get_vocab_size(with_added_tokens=True)

    def decode(self, ids: Iterable[int]) -> str:
        return self.backend.decode([int(i) for i in ids], skip_special_tokens=False)


def _build(vocab_size: int, min_frequency: int, special_tokens: tuple[str, ...], split_digits: bool):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.pre_tokenizer = (
        pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        if split_digits else byte_level
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(special_tokens),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    return tok, trainer


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 32_000, min_frequency: int = 2,
    special_tokens: tuple[str, ...] = SPECIAL_TOKENS, out_dir: str | os.PathLike | None = None,
    split_digits: bool = True,
) -> LoadedTokenizer:
    """Train the byte-level BPE on `texts`; save it to `out_dir` (transformers layout) if given.

    The first special token is EOS and the second PAD (ids 0 and 1 with the default list).
    `split_digits=False` lets BPE merge digits (GPT-2 style); only for comparison ablations.
    """
    tok, trainer = _build(vocab_size, min_frequency, special_tokens, split_digits)
    tok.train_from_iterator(texts, trainer=trainer)
    loaded = LoadedTokenizer(tok, tok.token_to_id(special_tokens[0]), tok.token_to_id(special_tokens[1]))
    if out_dir is not None:
        save_tokenizer(loaded, out_dir, special_tokens)
    return loaded


def save_tokenizer(tok: LoadedTokenizer, out_dir: str | os.PathLike,
                   special_tokens: tuple[str, ...] = SPECIAL_TOKENS) -> Path:
    """tokenizer.json + tokenizer_config.json + special_tokens_map.json, loadable by AutoTokenizer."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tok.backend.save(str(out / "tokenizer.json"))
    eos = tok.backend.id_to_token(tok.eos_id)
    pad = tok.backend.id_to_token(tok.pad_id) if tok.pad_id is not None else None
    extra = [t for t in special_tokens if t not in (eos, pad)]
    special_map = {"eos_token": eos, "bos_token": eos, "unk_token": eos, "pad_token": pad,
                   "additional_special_tokens": extra}
    # NOTE: no BOS is prepended (OLMo style); bos/unk point at EOS only so that code asking for them
    # gets a valid token rather than None.
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": 1_000_000_000,
        "clean_up_tokenization_spaces": False,
        "add_bos_token": False,
        "add_eos_token": False,
        **special_map,
    }
    (out / "special_tokens_map.json").write_text(json.dumps(special_map, indent=2) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    return out


def load_tokenizer(name_or_path: str | os.PathLike) -> LoadedTokenizer:
    """A folder with tokenizer.json (read directly), else a local path or hub id via AutoTokenizer."""
    path = Path(name_or_path)
    if (path / "tokenizer.json").exists():
        from tokenizers import Tokenizer

        backend = Tokenizer.from_file(str(path / "tokenizer.json"))
        cfg_path = path / "tokenizer_config.json"
        cfg = json.loads(cfg_path.read_text()) if cfg_path.exists() else {}
        eos_tok, pad_tok = cfg.get("eos_token", EOS), cfg.get("pad_token")
        eos_id = backend.token_to_id(eos_tok)
        if eos_id is None:
            raise ValueError(f"{path}: EOS token {eos_tok!r} is not in the vocabulary")
        return LoadedTokenizer(backend, eos_id, backend.token_to_id(pad_tok) if pad_tok else None)
    return _from_transformers(str(name_or_path))


def _from_transformers(name_or_path: str) -> LoadedTokenizer:
    """Any tokenizer AutoTokenizer can load (hub id or folder), reduced to its Rust backend."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(name_or_path)
    if hf.eos_token_id is None:
        raise ValueError(f"{name_or_path}: tokenizer has no EOS token")
    return LoadedTokenizer(hf.backend_tokenizer, hf.eos_token_id, hf.pad_token_id)


def _batches(docs: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@contextlib.contextmanager
def text_encoding(tok: LoadedTokenizer) -> Iterator[Any]:
    """The backend with `encode_special_tokens` on: a special-token string inside a document
    (`<|endoftext|>`, a FIM sentinel, a chat role) is encoded as the text it is, never as the
    special id, which would fake a document boundary or a FIM structure."""
    backend = tok.backend
    before = backend.encode_special_tokens
    backend.encode_special_tokens = True
    try:
        yield backend
    finally:
        backend.encode_special_tokens = before


def _fim_ids(tok: LoadedTokenizer) -> dict[str, int]:
    ids = {name: tok.backend.token_to_id(t) for name, t in zip(("prefix", "middle", "suffix"), FIM_TOKENS,
                                                                strict=True)}
    missing = [FIM_TOKENS[i] for i, v in enumerate(ids.values()) if v is None]
    if missing:
        raise ValueError(f"the tokenizer has no FIM sentinel token(s) {missing}: FIM documents cannot be written")
    return ids


def encode_docs(batch: list[dict], tok: LoadedTokenizer, text_field: str = "text") -> list[list[int]]:
    """Token ids of each document (no EOS). Text is encoded as text (`text_encoding`); a FIM document
    (field `fim`, see runners/curation/fim.py) is its three pieces joined by the real sentinel ids."""
    from runners.curation.fim import fim_parts
    from runners.curation.io import text_of

    texts: list[str] = []
    plan: list[tuple[str | None, int]] = []
    for d in batch:
        parts = fim_parts(d, text_field)
        plan.append((None if parts is None else parts[0], len(texts)))
        texts.extend([text_of(d, text_field)] if parts is None else parts[1:])
    with text_encoding(tok) as backend:
        # NOTE: encode_batch_fast skips character offsets, which shards never use.
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        encoded = [e.ids for e in encode(texts, add_special_tokens=False)]
    sent = _fim_ids(tok) if any(order for order, _ in plan) else {}
    out = []
    for order, k in plan:
        if order is None:
            out.append(encoded[k])
            continue
        prefix, middle, suffix = encoded[k], encoded[k + 1], encoded[k + 2]
        if order == "psm":
            out.append([sent["prefix"], *prefix, sent["suffix"], *suffix, sent["middle"], *middle])
        else:
            out.append([sent["suffix"], *suffix, sent["prefix"], *prefix, sent["middle"], *middle])
    return out


def count_tokens(texts: list[str], tok: LoadedTokenizer) -> list[int]:
    """Tokens of each text, encoded as text (as `write_shard` encodes it), EOS not counted."""
    with text_encoding(tok) as backend:
        encode = getattr(backend, "encode_batch_fast", backend.encode_batch)
        return [len(e.ids) for e in encode(texts, add_special_tokens=False)]


def write_shard(
    docs: Iterable[dict], tok: LoadedTokenizer, out_dir: str | os.PathLike, source: str,
    batch_size: int = 512, text_field: str = "text", spread: int = 0, seed: int = 0,
) -> dict[str, Any]:
    """Tokenize documents into a shard directory (tokens.bin, offsets.npy, meta.json); returns meta.

    A document with `repeat = k` is written k times, its copies spread apart by a seeded shuffle
    with at least `spread` tokens between any two of them (runners/curation/order.py); without
    repeats the input order is kept. Memory stays linear in the number of documents: each document
    is encoded once into a temporary file, which the copies are then gathered from.
    `doc_ids_sha256` is the sha256 of every written document's id, in order, each followed by a newline.
    """
    from runners.curation.order import spread_order

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "meta.json").unlink(missing_ok=True)
    dtype = np.dtype(np.uint16 if tok.vocab_size <= 65_536 else np.uint32).newbyteorder("<")
    lengths: list[int] = []
    repeats: list[int] = []
    id_ends: list[int] = []
    unique, id_file = out / ".unique.bin", out / ".ids.txt"
    with open(unique, "wb") as f, open(id_file, "wb") as ids_f:
        for batch in _batches(docs, batch_size):
            flat: list[int] = []
            for d, ids in zip(batch, encode_docs(batch, tok, text_field), strict=True):
                flat += ids
                flat.append(tok.eos_id)
                lengths.append(len(ids) + 1)
                repeats.append(int(d.get("repeat", 1)))
                ids_f.write(str(d["id"]).encode() + b"\n")
                id_ends.append(ids_f.tell())
            # NOTE: tofile writes native byte order; the contract says little-endian, so be explicit.
            np.asarray(flat, dtype=dtype).tofile(f)
    order = spread_order(np.array(lengths, dtype=np.int64), np.array(repeats, dtype=np.int64), spread, seed)
    n_tokens = _gather(unique, id_file, np.array(lengths, dtype=np.int64), np.array(id_ends, dtype=np.int64),
                       order, dtype, out)
    meta = {
        "dtype": dtype.name,
        "vocab_size": tok.vocab_size,
        "eos_id": tok.eos_id,
        "pad_id": tok.pad_id,
        "n_docs": len(order),
        "n_tokens": n_tokens["tokens"],
        "doc_ids_sha256": n_tokens["ids_sha256"],
        "source": source,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
    return meta


def _gather(unique: Path, id_file: Path, lengths: np.ndarray, id_ends: np.ndarray, order: np.ndarray,
            dtype: np.dtype, out: Path, chunk: int = 4096) -> dict[str, Any]:
    """Write tokens.bin and offsets.npy in `order` from the unique documents; remove the temporaries."""
    starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    id_starts = np.concatenate([[0], id_ends]).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths[order])]).astype(np.int64)
    identity = np.array_equal(order, np.arange(len(lengths)))
    ids_hash = hashlib.sha256()
    if identity:  # NOTE: the common case (no repeats): the file is already in order
        os.replace(unique, out / "tokens.bin")
        ids_hash.update(id_file.read_bytes())
    else:
        src = np.memmap(unique, dtype=dtype, mode="r") if starts[-1] else np.zeros(0, dtype)
        ids = np.memmap(id_file, dtype=np.uint8, mode="r") if id_starts[-1] else np.zeros(0, np.uint8)
        with open(out / "tokens.bin", "wb") as f:
            for lo in range(0, len(order), chunk):
                part = order[lo : lo + chunk]
                f.write(b"".join(src[starts[i] : starts[i + 1]].tobytes() for i in part.tolist()))
                ids_hash.update(b"".join(ids[id_starts[i] : id_starts[i + 1]].tobytes() for i in part.tolist()))
        del src, ids
        unique.unlink()
    id_file.unlink()
    np.save(out / "offsets.npy", offsets)
    return {"tokens": int(offsets[-1]), "ids_sha256": ids_hash.hexdigest()}


class TokenShard:
    """Read-only view of a shard: `len(shard)` documents, `shard.doc(i)` ends with EOS."""

    def __init__(self, shard_dir: str | os.PathLike):
        self.path = Path(shard_dir)
        meta_path = self.path / "meta.json"
        if not meta_path.exists():
            raise FileNotFoundError(f"{self.path}: no meta.json (shard missing or not finished)")
        self.meta = json.loads(meta_path.read_text())
        self.offsets = np.load(self.path / "offsets.npy")
        dtype = np.dtype(self.meta["dtype"]).newbyteorder("<")
        if self.meta["n_tokens"] == 0:
            self.tokens = np.zeros(0, dtype=dtype)
        else:
            self.tokens = np.memmap(self.path / "tokens.bin", dtype=dtype, mode="r")
        if len(self.tokens) != self.offsets[-1] or len(self.offsets) != self.meta["n_docs"] + 1:
            raise ValueError(f"{self.path}: tokens.bin / offsets.npy / meta.json disagree")

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def n_tokens(self) -> int:
        return int(self.offsets[-1])

    @property
    def eos_id(self) -> int:
        return int(self.meta["eos_id"])

    def doc(self, i: int) -> np.ndarray:
        return self.tokens[self.offsets[i] : self.offsets[i + 1]]
