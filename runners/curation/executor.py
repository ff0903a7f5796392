"""Run one step function over many shards, on local processes or on Ray, resumably.

The execution model is datatrove's: a task is a small picklable dict (which shard, where its outputs
go); a top-level function turns it into output files and returns a small JSON-able summary; after
the outputs are in place the worker writes a completion marker holding that summary. A rerun skips
every task whose marker exists, so a killed run resumes where it stopped, and the summaries of
skipped tasks are read back from their markers, so the caller sees the same results either way.

Both executors return results in task order and run the very same functions, so kept ids do not
depend on the executor or the number of workers.

    ex = make_executor("local", workers=2)     # or make_executor("ray") (pip install olmospec[cluster])
    results = run_tasks(ex, my_step, tasks, marker_dir="out.work/markers/map")
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from runners.curation.io import atomic_path

Task = dict[str, Any]
Summary = dict[str, Any]


class Executor(Protocol):
    """Anything that maps a picklable top-level function over items, keeping their order."""

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]: ...


class LocalExecutor:
    """Processes on this machine; `workers=None` means all cores, 1 runs in this process.

    The worker processes are started once and kept for every later `map` of this executor (a run's
    map and apply phases): each start costs the imports again (numpy, numba and its compiled
    kernels, ~0.5 s a worker), which was a tenth of a 300 MB exact dedup on 2 workers. They exit
    with the executor, or with the interpreter.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._pool: Any = None

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        if self.workers == 1 or len(items) <= 1:
            return [fn(item) for item in items]
        if self._pool is None:
            import multiprocessing  # NOTE: here, not at the top: a one-process run starts faster
            from concurrent.futures import ProcessPoolExecutor

            # NOTE: forkserver, not fork: the parent may hold threads (Ray, numba, pyarrow) and a
            # forked copy of a lock held by another thread deadlocks the child.
            ctx = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return list(self._pool.map(fn, items))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __del__(self) -> None:
        self.close()


class RayExecutor:
    """Ray tasks, one per item (`ray` is imported only here: the `cluster` extra).

    Connects to `address` (e.g. "auto" on a cluster) or starts a local Ray with `num_cpus`. When it
    starts Ray itself it puts the repository root on the workers' PYTHONPATH, so `runners` imports
    there without installing the package.
    """

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        import ray

        if not ray.is_initialized():
            root = str(Path(__file__).resolve().parents[2])
            path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)
            ray.init(
                address=address,
                num_cpus=num_cpus,
                include_dashboard=False,
                runtime_env={"env_vars": {"PYTHONPATH": path}},
                log_to_driver=False,
            )
        self._ray = ray

    def map(self, fn: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        # NOTE: ray.remote takes functions and classes, not callable objects such as `_Marked`
        remote = self._ray.remote(_call)
        return self._ray.get([remote.remote(fn, item) for item in items])


def _call(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


def make_executor(kind: str = "local", workers: int | None = None) -> Executor:
    """ "local" (default) or "ray"; `workers` is the process count (local) or CPU count (Ray)."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(num_cpus=workers)
    raise ValueError(f"unknown executor {kind!r} (expected 'local' or 'ray')")


def marker_path(marker_dir: str | os.PathLike, task: Task) -> Path:
    return Path(marker_dir) / f"{task['name']}.done"


def run_tasks(
    executor: Executor, fn: Callable[[Task], Summary], tasks: Sequence[Task], marker_dir: str | os.PathLike
) -> list[Summary]:
    """Run `fn` over the tasks not yet marked complete; return every task's summary, in order.

    Each task needs a unique `name` (its marker's file name). Summaries of tasks run now and of
    tasks completed by an earlier run are indistinguishable, except for `"resumed": True` on the
    latter, which callers count but must not let change any output.
    """
    names = [t["name"] for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError("task names must be unique: they name the completion markers")
    Path(marker_dir).mkdir(parents=True, exist_ok=True)
    todo = [t for t in tasks if not marker_path(marker_dir, t).exists()]
    fresh = executor.map(_Marked(fn, str(marker_dir)), todo)
    done = dict(zip((t["name"] for t in todo), fresh, strict=True))
    out: list[Summary] = []
    for task in tasks:
        if task["name"] in done:
            out.append(done[task["name"]])
        else:
            summary = json.loads(marker_path(marker_dir, task).read_text())
            out.append({**summary, "resumed": True})
    return out


class _Marked:
    """`fn` followed by its completion marker (a class, not a closure, so that it pickles)."""

    def __init__(self, fn: Callable[[Task], Summary], marker_dir: str) -> None:
        self.fn = fn
        self.marker_dir = marker_dir

    def __call__(self, task: Task) -> Summary:
        summary = self.fn(task)
        # NOTE: the marker is written only after fn's outputs are renamed into place, and atomically
        # itself, so "marker exists" implies "outputs complete".
        with atomic_path(marker_path(self.marker_dir, task)) as tmp:
            Path(tmp).write_text(json.dumps(summary, sort_keys=True))
        return summary
