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

from typing import Any


def njit() -> Any:
    """`numba.njit(cache=True, nogil=True)`, or None without numba."""
    try:
        import numba
    except ImportError:
        return None
    return numba.njit(cache=True, nogil=True)
