"""Executors and resume: the same kept ids with 1 and 2 workers, after a crash and resume, and on
Ray; completion markers make reruns skip finished shards."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dedup_corpus import planted

from runners.curation.exact import run_exact
from runners.curation.executor import LocalExecutor, run_tasks
from runners.curation.io import write_docs
from runners.curation.lsh import run_minhash
from runners.curation.substring import run_substring

STEPS = {
    "exact": lambda i, o, **kw: run_exact(i, o, **kw),
    "minhash": lambda i, o, **kw: run_minhash(i, o, threshold=0.8, **kw),
    # a cluster over max_cluster: its 200 x 31 recheck keys are made on the workers too
    "minhash_recheck": lambda i, o, **kw: run_minhash(i, o, threshold=0.8, max_cluster=4, **kw),
    "substring": lambda i, o, **kw: run_substring(i, o, min_bytes=300, **kw),
}


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four shards of real text with exact copies, planted near-duplicates and shared footers."""
    texts, origin = planted()
    rng = random.Random(5)
    n_real = len(texts) - len(origin)
    picked = (
        [origin[i] for i in range(150)] + list(range(n_real, n_real + 150)) + rng.sample(range(n_real), 500)
    )
    footer = texts[origin[0]][:400]
    docs = []
    for k, i in enumerate(picked):
        text = texts[i] + (f"\n{footer}" if k % 7 == 0 else "")
        docs.append({"id": f"doc-{k:04d}", "text": text, "meta": {"k": k}})
    docs += [dict(d, id=f"copy-{d['id']}") for d in docs[:40]]
    rng.shuffle(docs)
    folder = tmp_path_factory.mktemp("shards")
    paths = []
    for s, suffix in enumerate([".jsonl", ".jsonl.gz", ".jsonl.zst", ".jsonl"]):
        paths.append(folder / f"part-{s}{suffix}")
        write_docs(paths[-1], docs[s::4])
    return paths


def _outputs(out: Path) -> tuple[bytes, bytes, dict[str, Any]]:
    stats = json.loads(out.with_name("out.stats.json").read_text())
    stats.pop("shards_resumed")
    return out.read_bytes(), out.with_name("out.removed.jsonl").read_bytes(), stats


@pytest.mark.parametrize("step", list(STEPS))
def test_one_and_two_workers_agree(step: str, shards: list[Path], tmp_path: Path) -> None:
    one = STEPS[step](shards, tmp_path / "w1" / "out.jsonl", workers=1)
    two = STEPS[step](shards, tmp_path / "w2" / "out.jsonl", workers=2)
    assert one["docs_removed"] > 0 or one.get("docs_modified", 0) > 0
    if step == "minhash_recheck":
        assert one["oversized_clusters"] > 0, one
    assert _outputs(tmp_path / "w1" / "out.jsonl") == _outputs(tmp_path / "w2" / "out.jsonl")
    assert {k: v for k, v in one.items() if k != "shards_resumed"} == {
        k: v for k, v in two.items() if k != "shards_resumed"
    }


@pytest.mark.parametrize("step", list(STEPS))
def test_resume_after_losing_a_shard(step: str, shards: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    STEPS[step](shards, out, workers=1, keep_work=True)
    expected = _outputs(out)
    work = Path(f"{out}.work")
    # a killed run: shard 2's apply output and marker never made it to disk
    (work / "markers" / "apply" / "00002.done").unlink()
    for f in (work / "apply").glob("00002.*"):
        f.unlink()
    stats = STEPS[step](shards, out, workers=1)
    assert stats["shards_resumed"] == {"map": 4, "apply": 3}
    assert _outputs(out) == expected
    assert not work.exists()


class _CrashAfterOne:
    """An executor that finishes the first task, then dies (as a killed run would)."""

    def map(self, fn: Any, items: list[Any]) -> list[Any]:
        if items:
            fn(items[0])
        raise KeyboardInterrupt("simulated kill")


def test_crash_then_rerun_resumes(shards: list[Path], tmp_path: Path) -> None:
    reference = tmp_path / "ref" / "out.jsonl"
    run_minhash(shards, reference, workers=1)
    out = tmp_path / "run" / "out.jsonl"
    with pytest.raises(KeyboardInterrupt):
        run_minhash(shards, out, executor=_CrashAfterOne())
    assert not out.exists()  # nothing that looks complete
    assert sorted(p.name for p in (Path(f"{out}.work") / "markers" / "map").iterdir()) == ["00000.done"]
    stats = run_minhash(shards, out, workers=1)
    assert stats["shards_resumed"] == {"map": 1, "apply": 0}
    assert _outputs(out) == _outputs(reference)


def test_changed_parameters_do_not_resume(shards: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    run_substring(shards, out, min_bytes=300, workers=1, keep_work=True)
    stats = run_substring(shards, out, min_bytes=200, workers=1, keep_work=True)
    assert stats["shards_resumed"] == {"map": 0, "apply": 0}


def _double(task: dict[str, Any]) -> dict[str, Any]:
    return {"value": task["index"] * 2}


def test_run_tasks_skips_marked_tasks(tmp_path: Path) -> None:
    tasks = [{"name": f"t{i}", "index": i} for i in range(5)]
    first = run_tasks(LocalExecutor(1), _double, tasks, tmp_path / "m")
    assert [r["value"] for r in first] == [0, 2, 4, 6, 8]
    (tmp_path / "m" / "t3.done").unlink()
    again = run_tasks(LocalExecutor(1), _double, tasks, tmp_path / "m")
    assert [r["value"] for r in again] == [0, 2, 4, 6, 8]
    assert [bool(r.get("resumed")) for r in again] == [True, True, True, False, True]
    with pytest.raises(ValueError, match="unique"):
        run_tasks(LocalExecutor(1), _double, tasks + tasks[:1], tmp_path / "m")


@pytest.mark.slow
def test_ray_matches_local(shards: list[Path], tmp_path: Path) -> None:
    ray = pytest.importorskip("ray")
    from runners.curation.executor import RayExecutor

    executor = RayExecutor(num_cpus=2)
    try:
        for step, run in STEPS.items():
            run(shards, tmp_path / step / "local" / "out.jsonl", workers=1)
            run(shards, tmp_path / step / "ray" / "out.jsonl", executor=executor)
            assert _outputs(tmp_path / step / "ray" / "out.jsonl") == _outputs(
                tmp_path / step / "local" / "out.jsonl"
            )
    finally:
        ray.shutdown()
        shutil.rmtree(tmp_path, ignore_errors=True)


def test_killed_subprocess_resumes(shards: list[Path], tmp_path: Path) -> None:
    """SIGKILL a real run as soon as its first shard is marked complete, then rerun."""
    reference = tmp_path / "ref" / "out.jsonl"
    run_exact(shards, reference, workers=1)
    out = tmp_path / "run" / "out.jsonl"
    code = (
        "import sys; from runners.curation.exact import run_exact; "
        "run_exact(sys.argv[2:], sys.argv[1], workers=1, keep_work=True)"
    )
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-c", code, str(out), *map(str, shards)], cwd=root)
    marker = Path(f"{out}.work") / "markers" / "map" / "00000.done"
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if proc.returncode == -signal.SIGKILL:
        assert not out.exists()
    stats = run_exact(shards, out, workers=1)
    assert stats["shards_resumed"]["map"] >= 1
    assert _outputs(out) == _outputs(reference)
