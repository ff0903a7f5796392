"""Builders for the tiny corpus that `specs/tiny.ospec` trains on.

One module per concept: `text` (normalization and deterministic writers), `machine` (real text
read from this machine image), `arithmetic` (word problems with exact answers and the held-out
split), `instructions` (instruction-following constraints, their checker, prompts and demos),
`planting` (duplicates, boilerplate, low-quality text and contamination with ground truth).
`make_corpus.py` next to this package wires them together.
"""
