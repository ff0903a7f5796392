"""Output parts: a step writes its kept documents as several files of bounded size, so that the next
step runs one task per part (on all local cores, or on Ray) and no file grows with the corpus.

A task writes `<name>-000<suffix>`, `<name>-001<suffix>`, ... rolling over to a new part once
`part_bytes` of uncompressed JSON lines are in the current one. Where the cut falls depends only on
the records, never on workers or timing, so the parts are the same from run to run. Each part is
written under a temporary name and renamed when complete. jsonl, .jsonl.gz and .jsonl.zst parts can
be concatenated byte for byte into one valid file (gzip members and zstd frames follow each other),
which is how `olmospec data` assembles a single OUTPUT file.

    with PartWriter(work / "apply", "00003", ".jsonl.zst") as out:
        out.write_line(raw_json_line)        # or out.write(record)
    out.parts                                  # the files written, in order
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from runners.curation.io import _compressor, atomic_path, dumps

PART_BYTES = 128 << 20  # uncompressed bytes per part (the tiny corpus's steps write one part per shard)


class PartWriter:
    """Rolling writer of `<dir>/<name>-NNN<suffix>` parts (jsonl, .jsonl.gz or .jsonl.zst)."""

    def __init__(self, folder: str | os.PathLike, name: str, suffix: str = ".jsonl.zst",
                 part_bytes: int = PART_BYTES) -> None:
        self.folder, self.name, self.suffix, self.part_bytes = Path(folder), name, suffix, part_bytes
        self.parts: list[Path] = []
        self.docs = 0
        self._stack: contextlib.ExitStack | None = None
        self._out: Any = None
        self._size = 0

    def _open(self) -> None:
        target = self.folder / f"{self.name}-{len(self.parts):03d}{self.suffix}"
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(atomic_path(target))
        raw = self._stack.enter_context(open(tmp, "wb"))  # noqa: SIM115 (the stack closes it)
        self._out = self._stack.enter_context(_compressor(raw, self.suffix))
        self._size = 0
        self.parts.append(target)

    def write_line(self, line: bytes) -> None:
        """One JSON line (ending in a newline), as it is."""
        if self._out is None or self._size >= self.part_bytes:
            self._close_part()
            self._open()
        self._out.write(line)
        self._size += len(line)
        self.docs += 1

    def write(self, record: dict[str, Any]) -> None:
        self.write_line(dumps(record))

    def _close_part(self, exc: tuple = (None, None, None)) -> None:
        if self._stack is not None:
            stack, self._stack, self._out = self._stack, None, None
            stack.__exit__(*exc)

    def __enter__(self) -> Self:
        self.folder.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_part(exc)
        if exc[0] is None and not self.parts:  # NOTE: an empty shard still leaves one (empty) part
            self._open()
            self._close_part()


def concat_files(output: str | os.PathLike, files: Iterable[Path]) -> None:
    """`output` made of `files` back to back (atomically): valid for jsonl, gzip and zstd parts."""
    with atomic_path(output) as tmp, open(tmp, "wb") as out:
        for f in files:
            with open(f, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
