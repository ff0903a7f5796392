"""Quality scoring: a hashed bag-of-n-grams logistic-regression classifier trained here.

OLMo 3's quality score is a fastText bigram classifier: positives are instruction and chat data
(OpenHermes, ELI5, UltraChat, WildChat), negatives plain web text (DCLM RefinedWeb). No weights can
be downloaded on a build machine, so the classifier is trained from the positive and negative
documents the spec names, and its weights are a stage output (`QualityModel.save` / `.load`).

Why not fastText itself: the only NumPy-2-compatible build, `fasttext-numpy2` 0.10.4, is
nondeterministic here. Training the same file with the same arguments in one process
(`thread=1`, with or without `seed`, default lr and dim, trivially separable data) alternates between
a model and `RuntimeError: Encountered NaN`; the pattern depends on what the process did before.
So this module implements the same model family with numpy: a supervised fastText with `wordNgrams=2`
is a linear classifier over hashed unigram and bigram features, which is what this is, without the
low-rank embedding (dim) and trained by Adam on the logistic loss.

Features: lowercased text in which ASCII punctuation marks are tokens of their own (boilerplate is
full of `|` and `>`), hashed unigrams and bigrams (`texthash`), length-normalized. Training is
deterministic: minibatch order comes from a seeded generator and every step is a single-threaded
numpy reduction, so the same inputs give byte-identical weights. Scores are P(positive), written to
each document as a field (default `quality`).
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from runners.curation.base import Doc, StepResult
from runners.curation.io import text_of
from runners.curation.texthash import U64, ngram_hashes, word_hashes

_MAGIC = b"OLMOSPEC-QUALITY-1\n"


_PUNCT = string.punctuation.encode()


@lru_cache(maxsize=1)
def _space_table() -> dict[int, int]:
    return {cp: 0x20 for cp in range(0x110000) if chr(cp).isspace() and cp != 0x20}


def prepare(text: str, max_chars: int = 20_000) -> str:
    """Lowercased, every whitespace character a space; punctuation is split off when hashing."""
    return text[:max_chars].lower().translate(_space_table())


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Classifier settings; `ngrams=2` matches the DCLM / OLMo fastText bigram classifier."""

    seed: int = 0
    epochs: int = 10
    lr: float = 0.05
    l2: float = 1e-6
    batch_size: int = 128
    buckets_log2: int = 20  # 2**20 float32 weights = 4 MB
    ngrams: int = 2
    max_chars: int = 20_000


@dataclass(frozen=True, slots=True)
class Features:
    """Sparse batch in coordinate form: entry k adds vals[k] * w[cols[k]] to row rows[k]'s logit."""

    n_rows: int
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray


def featurize(texts: Sequence[str], buckets_log2: int, ngrams: int, max_chars: int) -> Features:
    """Hashed 1..ngrams-grams of each text (punctuation marks are tokens), length-normalized."""
    words = word_hashes([prepare(t, max_chars) for t in texts], solo=_PUNCT)
    n_docs = len(texts)
    rows_all = [np.repeat(np.arange(n_docs), np.diff(words.doc_start))]
    hashes_all = [words.hashes]
    for n in range(2, ngrams + 1):
        grams, docs = ngram_hashes(words, n)
        hashes_all.append(grams)
        rows_all.append(docs)
    rows = np.concatenate(rows_all)
    cols = (np.concatenate(hashes_all) >> U64(64 - buckets_log2)).astype(np.int64)
    # NOTE: each occurrence is weighted 1/sqrt(number of features in the document), the L2 norm
    # when features are distinct: long and short documents stay on one logit scale. fastText's plain
    # average (1/n) trained much worse here on shuffled-word negatives (0.03 vs 0.67 caught).
    counts = np.bincount(rows, minlength=n_docs)
    vals = 1.0 / np.sqrt(counts[rows])
    return Features(n_docs, rows, cols, vals)


class QualityModel:
    """Weights of the linear classifier; `score` returns P(positive) for each text."""

    def __init__(self, weights: np.ndarray, bias: float, config: TrainConfig):
        self.weights = weights.astype(np.float32)
        self.bias = float(bias)
        self.config = config

    def _logits(self, feats: Features) -> np.ndarray:
        per_entry = self.weights[feats.cols].astype(np.float64) * feats.vals
        return np.bincount(feats.rows, weights=per_entry, minlength=feats.n_rows) + self.bias

    def score(self, texts: Sequence[str]) -> np.ndarray:
        c = self.config
        return _sigmoid(self._logits(featurize(texts, c.buckets_log2, c.ngrams, c.max_chars)))

    def save(self, path: str | os.PathLike) -> None:
        """One file: magic line, JSON header line, little-endian float32 weights (byte-stable)."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        header = json.dumps({"config": asdict(self.config), "bias": self.bias}, sort_keys=True)
        with open(path, "wb") as f:
            f.write(_MAGIC + header.encode() + b"\n")
            f.write(self.weights.astype("<f4").tobytes())

    @classmethod
    def load(cls, path: str | os.PathLike) -> QualityModel:
        data = Path(path).read_bytes()
        if not data.startswith(_MAGIC):
            raise ValueError(f"{path}: not a quality model file (expected {_MAGIC!r} at the start)")
        header_end = data.index(b"\n", len(_MAGIC))
        header = json.loads(data[len(_MAGIC) : header_end])
        weights = np.frombuffer(data[header_end + 1 :], dtype="<f4")
        config = TrainConfig(**header["config"])
        if len(weights) != 1 << config.buckets_log2:
            raise ValueError(f"{path}: {len(weights)} weights, expected {1 << config.buckets_log2}")
        return cls(weights, header["bias"], config)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # NOTE: tanh form cannot overflow for large |z|


def train(positives: Iterable[str], negatives: Iterable[str], config: TrainConfig = TrainConfig()
          ) -> QualityModel:
    """Fit the classifier by minibatch Adam on the logistic loss (plus a small L2 penalty)."""
    texts = list(positives)
    n_pos = len(texts)
    texts += list(negatives)
    if n_pos == 0 or n_pos == len(texts):
        raise ValueError("quality training needs both positive and negative documents")
    labels = np.zeros(len(texts))
    labels[:n_pos] = 1.0
    feats = _Csr.of(featurize(texts, config.buckets_log2, config.ngrams, config.max_chars))
    dim = 1 << config.buckets_log2
    w, b = np.zeros(dim), 0.0
    m, v, mb, vb = np.zeros(dim), np.zeros(dim), 0.0, 0.0
    beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
    rng = np.random.default_rng(config.seed)
    for _ in range(config.epochs):
        order = rng.permutation(len(texts))
        for start in range(0, len(order), config.batch_size):
            batch = feats.take(order[start : start + config.batch_size])
            y = labels[order[start : start + config.batch_size]]
            logits = np.bincount(batch.rows, weights=w[batch.cols] * batch.vals, minlength=len(y)) + b
            err = (_sigmoid(logits) - y) / len(y)
            grad = np.bincount(batch.cols, weights=batch.vals * err[batch.rows], minlength=dim)
            grad += config.l2 * w
            grad_b = float(err.sum())
            step += 1
            m = beta1 * m + (1 - beta1) * grad
            v = beta2 * v + (1 - beta2) * grad * grad
            mb = beta1 * mb + (1 - beta1) * grad_b
            vb = beta2 * vb + (1 - beta2) * grad_b * grad_b
            scale = config.lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
            w -= scale * m / (np.sqrt(v) + eps)
            b -= scale * mb / (np.sqrt(vb) + eps)
    return QualityModel(w, b, config)


@dataclass(frozen=True, slots=True)
class _Csr:
    """Features grouped by row (for drawing minibatches): row r is entries ptr[r]:ptr[r+1]."""

    ptr: np.ndarray
    cols: np.ndarray
    vals: np.ndarray

    @classmethod
    def of(cls, feats: Features) -> _Csr:
        order = np.argsort(feats.rows, kind="stable")
        ptr = np.zeros(feats.n_rows + 1, dtype=np.int64)
        np.cumsum(np.bincount(feats.rows, minlength=feats.n_rows), out=ptr[1:])
        return cls(ptr, feats.cols[order], feats.vals[order])

    def take(self, idx: np.ndarray) -> Features:
        """Rows `idx`, renumbered 0..len(idx)-1 in that order."""
        lengths = self.ptr[idx + 1] - self.ptr[idx]
        starts = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=starts[1:])
        entry = np.repeat(self.ptr[idx] - starts[:-1], lengths) + np.arange(starts[-1])
        rows = np.repeat(np.arange(len(idx)), lengths)
        return Features(len(idx), rows, self.cols[entry], self.vals[entry])


def _batches(docs: Iterable[Doc], size: int) -> Iterator[list[Doc]]:
    batch: list[Doc] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def score_documents(
    docs: Iterable[Doc], model: QualityModel, field: str = "quality", batch_size: int = 1024,
    text_field: str = "text",
) -> StepResult:
    """Add `field` (P(positive)) to every document; nothing is removed (upsampling decides)."""
    result = StepResult()
    for batch in _batches(docs, batch_size):
        scores = model.score([text_of(d, text_field) for d in batch])
        result.kept.extend({**d, field: float(s)} for d, s in zip(batch, scores, strict=True))
    scores = np.array([d[field] for d in result.kept]) if result.kept else np.zeros(0)
    result.stats = {
        "documents": len(result.kept),
        "score_mean": float(scores.mean()) if len(scores) else None,
        "score_quantiles": {f"p{int(q * 100)}": float(np.quantile(scores, q)) for q in (0.1, 0.5, 0.9)}
        if len(scores) else {},
    }
    return result
