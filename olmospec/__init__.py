"""olmospec: a language-model training recipe as a short spec file, compiled to a DVC pipeline.

The package is pure Python (no torch, transformers, datasets, lm_eval or vllm imports), so that
`olmospec check` answers in well under a second. The public API is a few functions in
`olmospec.api` (`load_spec`, `compile_spec`), re-exported here lazily so that importing a
submodule such as `olmospec.ir` stays cheap.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "compile_spec", "load_spec"]


def __getattr__(name: str):
    if name in ("compile_spec", "load_spec"):
        from olmospec import api

        return getattr(api, name)
    raise AttributeError(name)
