"""Evaluation: the lm-eval stage, local task definitions, RULER and contamination checks.

Heavy libraries (lm_eval, transformers, torch) are imported where they are used, never here.
"""
