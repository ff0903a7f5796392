"""Data curation steps (dedup, quality, decontamination, FIM, mixing, tokenization).

Every step is a small pure function over documents (dicts with at least `id` and `text`) that
returns a `StepResult`: the kept documents, the removed ones with a reason each, and counts. The
executors in `runners.curation.executor` run the same functions on local processes or on Ray.
"""
