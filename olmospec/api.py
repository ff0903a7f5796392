"""The public API: load a spec (all its variants), compile it.

    spec = load_spec("specs/tiny.ospec")      # -> Experiment (base + ablations + sweeps + seeds)
    compile_spec("specs/tiny.ospec", out=".")  # -> writes dvc.yaml and stage configs
"""

from __future__ import annotations

from pathlib import Path

from olmospec.errors import Diagnostics
from olmospec.loader import load_items
from olmospec.variants import Experiment, expand


def load_spec(path: str | Path, sources: dict[str, str] | None = None) -> Experiment:
    """Parse, import, expand variants and resolve each; raises SpecErrors with every problem."""
    diags = Diagnostics()
    items = load_items(path, diags, _sources=sources)
    diags.raise_if_any()
    return expand(items, str(path))


def compile_spec(path: str | Path, out: str | Path | None = None, root: str | Path = "."):
    from olmospec.compile import compile_experiment

    exp = load_spec(path)
    return compile_experiment(exp, Path(root), Path(out) if out is not None else None)


def load_text(text: str, file: str = "<spec>") -> Experiment:
    """Like load_spec, for spec text that is not in a file (so it cannot import other files)."""
    from olmospec.errors import SpecError
    from olmospec.loader import merge
    from olmospec.parser import parse

    f = parse(text, file)
    for item in f.items:
        if getattr(item, "kind", None) == "import":
            raise SpecError(item.pos, "imports need a spec file: use load_spec(path)")
    return expand(merge(f.items), file)
