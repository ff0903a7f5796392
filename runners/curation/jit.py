"""The one way curation code asks for a compiled kernel: numba's `njit`, cached on disk, or None.

numba is part of the `curate` extra; every kernel has a numpy or Python path with the same values
for where it is missing, and for small inputs, where importing it (~0.3 s) costs more than it saves.

    jit = njit()
    if jit is None:
        return None
    @jit
    def kernel(...): ...
"""

from __future__ import annotations

import sys
from typing import Any

# NOTE: below this many bytes (until a bigger batch has loaded the kernel) a call takes the Python
# path: importing numba and loading a compiled kernel (~0.3 s) costs more than it saves on a small
# file, which must start fast
KERNEL_MIN_BYTES = 1 << 20


def njit() -> Any:
    """`numba.njit(cache=True, nogil=True)`, or None without numba."""
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True, nogil=True)


def loaded(module: str, factory: str) -> bool:
    """Whether `module`'s lru-cached kernel `factory` has been built in this process already."""
    mod = sys.modules.get(module)
    return mod is not None and getattr(mod, factory).cache_info().currsize > 0
