"""The stage's scorer: one reward per completion from the record's verifier (or a control), never
an exception. A verifier that raises or times out gives reward 0, and `counts` says why, by reason
(`timeout`, `error:<Exception>`), so the metrics show how often it happened."""

from __future__ import annotations

import zlib
from collections import Counter

from runners.rlvr import verifiers as V


class Scorer:
    def __init__(self, rewards: tuple[str, ...], seed: int, ifeval_mode: str = "all", timeout: float = 5.0):
        self.controls = [r for r in rewards if r in ("random", "format")]
        self.seed, self.ifeval_mode, self.timeout = seed, ifeval_mode, timeout
        self.counts: Counter[str] = Counter()

    def kind(self, rec: dict) -> str:
        return self.controls[0] if self.controls else rec["verifier"]

    def __call__(self, rec: dict, completion: str, draw: tuple) -> float:
        """Reward of `completion` for `rec`; `draw` (step, try, sample) seeds the random control."""
        kind = self.kind(rec)
        try:
            if kind == "random":
                key = zlib.crc32(repr((self.seed, rec["id"], *draw)).encode())
                return V.random_reward(completion, key)
            if kind == "format":
                return V.format_reward(completion)
            if kind == "math":
                return V.math_reward(completion, str(rec["answer"]), timeout=self.timeout)
            if kind == "ifeval":
                return V.ifeval_reward(completion, rec["constraints"], mode=self.ifeval_mode)
            if kind == "code":
                return V.code_reward(completion, rec["tests"], timeout=2 * self.timeout)
        except V.VerifierTimeout:
            self.counts["timeout"] += 1
            return 0.0
        except Exception as e:  # noqa: BLE001 - a verifier failure must never stop the stage
            self.counts[f"error:{type(e).__name__}"] += 1
            return 0.0
        raise ValueError(f"unknown reward {kind!r}")
