"""Symbolic answer equivalence (math-verify) with a timeout that works on any thread.

`equivalent(gold, pred, timeout)` asks a long-lived worker process (`_math_worker.py`) and waits at
most `timeout` seconds; past that the worker is killed (and restarted on the next call) and
`VerifierTimeout` is raised. A pathological expression such as `9^{9^{9^{9}}}` therefore costs one
timeout, never a stuck stage. Calls from several threads are serialised on one worker.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

WORKER = Path(__file__).with_name("_math_worker.py")
START_TIMEOUT = 60.0  # importing sympy and math-verify, on a busy machine


class VerifierTimeout(Exception):
    """A verifier did not answer within its time limit."""


class _Worker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.proc: subprocess.Popen | None = None

    def _start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True, env=env,
        )
        self._read(START_TIMEOUT)

    def _read(self, timeout: float) -> dict:
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            self.kill()
            raise VerifierTimeout(f"math-verify gave no answer within {timeout:g} s")
        line = self.proc.stdout.readline()
        if not line:
            self.kill()
            raise RuntimeError("the math-verify worker exited")
        return json.loads(line)

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None

    def ask(self, gold: str, pred: str, timeout: float) -> dict:
        with self.lock:
            if self.proc is None or self.proc.poll() is not None:
                self._start()
            self.proc.stdin.write(json.dumps({"gold": gold, "pred": pred}) + "\n")
            self.proc.stdin.flush()
            return self._read(timeout)


_WORKER = _Worker()


def equivalent(gold: str, pred: str, timeout: float = 5.0) -> bool:
    """Is `pred` mathematically equal to `gold` (LaTeX or plain expressions)? Raises
    `VerifierTimeout` after `timeout` seconds."""
    return bool(_WORKER.ask(gold, pred, timeout)["ok"])


def shutdown() -> None:
    """Stop the worker (it also ends with this process: its stdin closes)."""
    _WORKER.kill()
