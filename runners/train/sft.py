"""SFT data: chat records (CONTRACTS.md) -> token ids with a loss mask on assistant tokens -> packed rows.

The chat format is fixed and simple, and is written into the exported tokenizer as its chat template
so that evaluation and RL prompt the model exactly as it was trained:

    <|user|>\n{content}\n<|assistant|>\n{content}<EOS><|user|>\n...

Each piece is tokenized on its own and the ids concatenated, so the loss mask is exact: the loss
covers an assistant message's content and its EOS (the model must learn to stop), nothing else.
Message contents are encoded as text even where they contain a special token's string (a chat about
`<|endoftext|>` must not end a document); only the template's own role tokens are special ids.

Records are read through `runners.inputs` from wherever the spec points: a source's files (jsonl,
jsonl.gz, jsonl.zst, parquet), an HF dataset (a `save_to_disk` folder or a cached hub id, with its
split), or an upstream curation's `docs/` folder. Unreadable records and records that are not
valid chats are kept with file, line and reason (`rejects`, written to the stage's rejects.jsonl).

Conversations are packed greedily into rows of `seq_len` tokens in an order drawn per epoch from
(seed, epoch), so row k of the whole run is a pure function of (seed, k) and resuming needs no state.
A conversation longer than `seq_len` is truncated and counted, never dropped silently; records that
are not valid chats are counted by reason.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from olmospec.ir.train import DataComponent
from runners.train.data import IGNORE, Batch, _rng
from runners.train.errors import StageError

# NOTE: newlines are Jinja string expressions, because transformers renders with trim_blocks=True,
# which would eat a literal newline after a block tag.
CHAT_TEMPLATE = (
    r"{% for m in messages %}{{ '<|' + m['role'] + '|>\n' + m['content'] }}"
    r"{% if m['role'] == 'assistant' %}{{ eos_token }}{% else %}{{ '\n' }}{% endif %}{% endfor %}"
    r"{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
ROLES = ("system", "user", "assistant")


def encode_chat(messages: list[dict], tokenizer) -> tuple[list[int], list[bool]]:
    """Token ids of one conversation and, per id, whether it is trained on (assistant content+EOS)."""

    def ids(text: str, special: bool = False) -> list[int]:
        # NOTE: split_special_tokens: a special token's string inside a message is ordinary text
        return tokenizer(text, add_special_tokens=False, split_special_tokens=not special)["input_ids"]

    out: list[int] = []
    train: list[bool] = []
    for m in messages:
        role, content = m["role"], m["content"]
        head = ids(f"<|{role}|>\n", special=True)
        out += head
        train += [False] * len(head)
        if role == "assistant":
            body = ids(content) + [tokenizer.eos_token_id]
            out += body
            train += [True] * len(body)
        else:
            body = ids(content + "\n")
            out += body
            train += [False] * len(body)
    return out, train


def _problem(record: object) -> str | None:
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list) or not record["messages"]:
        return "no_messages"
    for m in record["messages"]:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            return "bad_message"
    if not any(m["role"] == "assistant" for m in record["messages"]):
        return "no_assistant_turn"
    return None


def component_input(comp: DataComponent) -> dict:
    """How to read a component's chat records (`runners.inputs`): the compiler's `records`, or for a
    bare path a source of chat files."""
    if comp.records is not None:
        return dict(comp.records)
    return {"kind": "source", "name": comp.name, "path": comp.path, "text": "messages", "id": "id"}


def read_chats(comp: DataComponent):
    """(file, line, record or reject reason) of every record of a component, in a stable order."""
    from runners.curation.io import iter_records
    from runners.inputs import InputError, shards_of

    try:
        shards = shards_of(component_input(comp))
    except (InputError, ValueError, FileNotFoundError) as e:
        raise StageError(f"SFT data '{comp.name}': {e}") from None
    for shard in shards:
        for line, record in iter_records(shard):
            yield shard, line, record


class ChatData:
    """All conversations of a stage, encoded once; rows are packed per epoch on demand."""

    def __init__(self, components: tuple[DataComponent, ...], tokenizer, seq_len: int, seed: int):
        self.seq_len, self.seed = seq_len, seed
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        self.skipped: Counter[str] = Counter()
        self.truncated = 0
        self.convs: list[tuple[np.ndarray, np.ndarray]] = []
        self.rejects: list[dict] = []
        for comp in components:
            for file, line, record in read_chats(comp):
                why = record if isinstance(record, str) else _problem(record)
                if why is not None:
                    self.skipped[why] += 1
                    rid = record.get("id") if isinstance(record, dict) else None
                    self.rejects.append({"id": rid, "reason": why, "file": file, "line": line})
                    continue
                ids, train = encode_chat(record["messages"], tokenizer)
                if len(ids) > seq_len:
                    self.truncated += 1
                    ids, train = ids[:seq_len], train[:seq_len]
                self.convs.append((np.array(ids, dtype=np.int64), np.array(train, dtype=bool)))
        if not self.convs:
            raise StageError(
                f"no usable chat records in {[c.path for c in components]} ({dict(self.skipped)})"
            )
        self._epochs: dict[int, list[list[int]]] = {}
        self._counts: dict[int, int] = {}

    def _rows(self, epoch: int) -> list[list[int]]:
        """Conversation indices per packed row, greedy in this epoch's order."""
        if epoch not in self._epochs:
            rows: list[list[int]] = [[]]
            used = 0
            for i in _rng(self.seed, 3, epoch).permutation(len(self.convs)):
                n = len(self.convs[i][0])
                if used + n > self.seq_len:
                    rows.append([])
                    used = 0
                rows[-1].append(int(i))
                used += n
            self._epochs = {epoch: rows}  # one epoch in memory is enough: rows are read in order
            self._counts[epoch] = len(rows)
        return self._epochs[epoch]

    def _n_rows(self, epoch: int) -> int:
        if epoch not in self._counts:
            self._rows(epoch)
        return self._counts[epoch]

    @property
    def rows_per_epoch(self) -> int:
        return self._n_rows(0)

    def steps(self, epochs: float, batch_seqs: int) -> int:
        return max(1, math.ceil(epochs * self.rows_per_epoch / batch_seqs))

    def row(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Inputs, targets and document ids of global row k (epochs follow each other)."""
        epoch = 0
        while k >= self._n_rows(epoch):
            k -= self._n_rows(epoch)
            epoch += 1
        inputs = np.full(self.seq_len, self.pad_id, dtype=np.int64)
        targets = np.full(self.seq_len, IGNORE, dtype=np.int64)
        docs = np.zeros(self.seq_len, dtype=np.int64)
        at = 0
        for d, i in enumerate(self._rows(epoch)[k]):
            ids, train = self.convs[i]
            n = len(ids)
            inputs[at : at + n] = ids
            # position j predicts token j+1 of the same conversation, when that token is trained on
            targets[at : at + n - 1] = np.where(train[1:], ids[1:], IGNORE)
            docs[at : at + n] = d
            at += n
        docs[at:] = len(self._rows(epoch)[k])  # padding is a document of its own
        return inputs, targets, docs

    def step_batch(self, step: int, n: int, lo: int = 0, hi: int | None = None) -> Batch:
        """Rows [lo, hi) of global batch `step`."""
        rows = [self.row(step * n + g) for g in range(lo, n if hi is None else hi)]
        cols = [torch.from_numpy(np.stack(c)) for c in zip(*rows, strict=True)]
        return Batch(*cols)

    def stats(self) -> dict:
        return {
            "conversations": len(self.convs),
            "rows_per_epoch": self.rows_per_epoch,
            "truncated": self.truncated,
            "skipped": dict(sorted(self.skipped.items())),
        }
