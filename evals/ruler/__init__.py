"""RULER (NVIDIA/RULER), offline: generators in NVIDIA's formats from haystack text shipped with the
spec, sized by the model's tokenizer, and NVIDIA's two scorers.

    from evals.ruler import string_match_all, string_match_part
    string_match_all(["... 1234567 ..."], [["1234567"]])   # 100.0
"""

from evals.ruler.scoring import sample_score, string_match_all, string_match_part

__all__ = ["sample_score", "string_match_all", "string_match_part"]
