"""The compiled XXH3 word hash gives the library's values, so MinHash keeps what it kept before."""

from __future__ import annotations

import numpy as np
import pytest
import xxhash
from dedup_corpus import real_documents
from test_exact import ODD, _tricky_texts

from runners.curation import minhash

pytest.importorskip("numba")

from runners.curation.word_hash import LONGEST, word_hashes


def test_every_length_class_equals_the_library():
    rng = np.random.default_rng(7)
    # no ASCII whitespace inside a word; lengths 1..300 cover XXH3's classes up to 240 and beyond
    words = [bytes(rng.choice(np.r_[33:127, 128:256], size=n).astype(np.uint8)) for n in list(range(1, 301)) * 5]
    buf = np.frombuffer(b" \t".join(words) + b"\n", dtype=np.uint8)
    hashes, counts, long_words = word_hashes(buf, np.array([0, len(buf)]))
    assert counts.tolist() == [len(words)]
    want = np.array([xxhash.xxh3_64_intdigest(w) for w in words], dtype=np.uint64)
    short = np.array([len(w) <= LONGEST for w in words])
    assert np.array_equal(hashes[short], want[short])
    assert [(i, n) for i, _, n in long_words.tolist()] == [(i, len(w)) for i, w in enumerate(words) if len(w) > LONGEST]
    assert all(bytes(buf[lo : lo + n]) == words[i] for i, lo, n in long_words.tolist())


def _both(texts, monkeypatch):
    monkeypatch.setattr(minhash, "_KERNEL_MIN_BYTES", 1 << 62)
    monkeypatch.setattr(minhash, "_kernel_loaded", lambda: False)
    library = minhash.word_hashes(texts)
    monkeypatch.setattr(minhash, "_KERNEL_MIN_BYTES", 0)
    return library, minhash.word_hashes(texts)


def test_word_hashes_of_real_and_hostile_texts_equal_the_library_path(monkeypatch):
    texts = list(real_documents()) + _tricky_texts(5000, seed=3) + ODD + ["", "   \n\t", "a" * 500 + " b " + "é" * 300]
    (lib_h, lib_n), (fast_h, fast_n) = _both(texts, monkeypatch)
    assert np.array_equal(lib_n, fast_n) and np.array_equal(lib_h, fast_h)
    assert len(lib_h) > 100_000


def test_shingles_are_unchanged_by_the_kernel(monkeypatch):
    web = list(real_documents())
    monkeypatch.setattr(minhash, "_KERNEL_MIN_BYTES", 1 << 62)
    monkeypatch.setattr(minhash, "_kernel_loaded", lambda: False)
    flat, off = minhash.shingle_batch(web)
    monkeypatch.setattr(minhash, "_KERNEL_MIN_BYTES", 0)
    flat2, off2 = minhash.shingle_batch(web)
    assert np.array_equal(off, off2) and np.array_equal(flat, flat2)
