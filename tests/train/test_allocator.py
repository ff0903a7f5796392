"""keep_freed_memory: a step's large tensors come from the heap, which keeps them once freed, instead
of from fresh kernel mappings that every step faults in again."""

from __future__ import annotations

import ctypes.util
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20

# mallinfo2's `hblkhd`: the bytes glibc holds in mmap'd blocks, here while a fresh process's first
# 48 MiB tensor is alive. By default glibc maps anything over 128 KiB until a first free, and anything
# over 32 MiB always (the logits of 16 x 256 tokens over a 2048-token vocabulary are 32 MiB).
LOOP = """
import ctypes, sys
sys.path.insert(0, {root!r})
if {tuned}:
    from runners.allocator import keep_freed_memory
    assert keep_freed_memory()
import torch

class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
x = torch.empty(12 << 20).fill_(1.0)
print(libc.mallinfo2().hblkhd)
"""


def _mapped_while_alive(tuned: bool) -> int:
    out = subprocess.run([sys.executable, "-c", LOOP.format(root=str(ROOT), tuned=tuned)],
                         capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


@pytest.mark.skipif(platform.system() != "Linux" or "libc" not in (ctypes.util.find_library("c") or ""),
                    reason="glibc's mallopt")
def test_a_large_tensor_comes_from_the_heap():
    default, tuned = _mapped_while_alive(False), _mapped_while_alive(True)
    assert default >= 48 * MIB, default / MIB
    assert tuned < 48 * MIB, tuned / MIB
