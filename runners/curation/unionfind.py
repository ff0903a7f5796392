"""Union-find (disjoint sets) over integer ids 0..n-1, with path halving and union by size.

Used by MinHash dedup twice: once over LSH bucket collisions (candidate clusters), once over
verified pairs (final clusters). A component's representative is not its smallest member; callers
that need a deterministic kept copy ask `components()`, which lists members in increasing order.
"""

from __future__ import annotations

import numpy as np


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = np.arange(n, dtype=np.int64)
        self.size = np.ones(n, dtype=np.int64)

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # NOTE: path halving keeps trees shallow without recursion
            x = int(parent[x])
        return x

    def union(self, x: int, y: int) -> bool:
        """Merge the sets of x and y; False if they were already one set."""
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return False
        if self.size[rx] < self.size[ry]:
            rx, ry = ry, rx
        self.parent[ry] = rx
        self.size[rx] += self.size[ry]
        return True

    def union_pairs(self, pairs: np.ndarray) -> None:
        for x, y in pairs.tolist():
            self.union(x, y)

    def roots(self) -> np.ndarray:
        """The representative of every element (fully compressed)."""
        return np.fromiter(
            (self.find(i) for i in range(len(self.parent))), dtype=np.int64, count=len(self.parent)
        )

    def components(self, min_size: int = 2) -> list[np.ndarray]:
        """Components with at least `min_size` members, each sorted, ordered by smallest member."""
        roots = self.roots()
        order = np.argsort(roots, kind="stable")
        sorted_roots = roots[order]
        cuts = np.flatnonzero(np.diff(sorted_roots)) + 1
        groups = [g for g in np.split(order, cuts) if len(g) >= min_size]
        return sorted(groups, key=lambda g: int(g[0]))
