"""Curation steps end to end at corpus scale, each against baselines measured in the same run.

    flock -x /tmp/olmospec-cpu.lock python benchmarks/curation_scale.py [--mb 300] [--big-mb 1200]
        [--cache ~/.cache/olmospec-bench] [--steps exact,minhash,decontaminate,fim,quality,substring]
        [--datatrove PYTHON]

The corpus is real text found on every Debian machine, built at benchmark time into `--cache`
(never committed): every copyright file, changelog, README and man page under /usr/share/doc and
/usr/share/man (gzip ones decompressed; binary files skipped), one document per file, as 8
`jsonl.zst` parts. When the machine has less text than asked for, the corpus repeats it with each
copy marked on its first line ("copy k of ..."), so copies are not exact duplicates. A step runs as
a user runs it (`python -m runners.data STEP PARTS... OUT --workers W`: read jsonl.zst, step, write
parts, stats) in a fresh process; wall time and peak RSS (the largest process of the run, from
`getrusage(RUSAGE_CHILDREN)` after each run) are measured per run. Baselines, in the same run:

- exact dedup: a 20-line Python script (json, md5 of the normalized text, a set of digests, kept
  lines written out); goal: ours >= 3x its speed at <= 2x its memory, one worker each;
- MinHash: datasketch 2.x (`MinHash.bulk`, `MinHashLSH` with the same 26 x 11 bands, the same word
  5-gram shingles, exact-Jaccard verification of candidates, union-find); goal: ours >= 5x;
- datatrove 0.10's equivalent (exact: `ExactDedupSignature`/`ExactFindDedups`/`ExactDedupFilter`;
  MinHash: its 4-stage `Minhash*` pipeline), when `--datatrove` names a Python that has it
  (install it in its own venv: `python -m venv /tmp/dt && /tmp/dt/bin/pip install 'datatrove[io]==0.10.*' regex
  tokenizers`; its dedup module imports both).

Also: peak memory on `--mb` and on `--big-mb` (exact and decontamination must differ by < 20%),
and 2 workers vs 1 (goal: >= 1.7x on 2 quiet cores). Results go to `--cache`/results.json and a
table on stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (Path("/usr/share/doc"), Path("/usr/share/man"))
N_PARTS = 8
BASELINES = Path(__file__).with_name("curation_baselines.py")


def _texts():
    """(path, text) of every readable text file under SOURCES, sorted, binary files skipped."""
    for root in SOURCES:
        for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink()):
            try:
                raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            except (OSError, EOFError):
                continue
            if not raw or b"\0" in raw[:4096]:
                continue
            text = raw.decode("utf-8", errors="replace")
            if text.count("\ufffd") > len(text) // 100:
                continue
            yield str(path), text


def build_corpus(cache: Path, mb: int) -> list[Path]:
    """8 jsonl.zst parts holding >= mb MB of JSON lines (cached: built once per size). Documents are
    dealt to the parts in turn, so the parts are about equal in size (files found in one folder
    are alike: a part of changelogs takes ten times as long as a part of man pages)."""
    import zstandard

    out = cache / f"corpus-{mb}mb-dealt"
    parts = [out / f"part-{i:02d}.jsonl.zst" for i in range(N_PARTS)]
    if (out / "done").exists():
        return parts
    out.mkdir(parents=True, exist_ok=True)
    texts = list(_texts())
    lines, size, copy = [], 0, 0
    while size < mb * 1e6:
        for path, text in texts:
            body = text if copy == 0 else f"copy {copy} of {path}\n{text}"
            line = json.dumps({"id": f"{path}#{copy}", "text": body, "source": path}, ensure_ascii=False) + "\n"
            lines.append(line.encode())
            size += len(lines[-1])
            if size >= mb * 1e6:
                break
        copy += 1
    for i, p in enumerate(parts):
        with open(p, "wb") as f, zstandard.ZstdCompressor(level=3).stream_writer(f) as z:
            z.write(b"".join(lines[i::N_PARTS]))
    (out / "done").write_text(json.dumps({"bytes": size, "docs": len(lines),
                                          "marked_copies": sum(b"#0\"" not in x[:600] for x in lines)}))
    return parts


def measure(cmd: list[str], env: dict | None = None) -> dict:
    """Wall seconds and peak RSS (MB) of one command in a fresh process (its largest process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if r.returncode != 0:
        return {"error": (r.stderr or r.stdout)[-2000:], "wall_s": wall}
    # NOTE: ru_maxrss of children is the maximum over all children so far: runs go from small to
    # large footprint within a group, and each group starts in its own process (see main)
    return {"wall_s": wall, "peak_mb": max(peak, before) / 1024, "stdout": r.stdout[-4000:]}


def _ours(step: str, parts: list[Path], out: Path, workers: int, extra: list[str]) -> list[str]:
    return [sys.executable, "-m", "runners.data", step, *map(str, parts), str(out), "--workers", str(workers),
            "--json", *extra]


STEP_ARGS = {
    "exact": [],
    "minhash": ["--threshold", "0.8", "--bands", "26", "--rows", "11"],
    "substring": ["--min-bytes", "500"],
    "fim": ["--rate", "0.5", "--spm", "0.5"],
}


def _step_args(step: str, cache: Path) -> list[str]:
    if step == "decontaminate":
        return ["--against", str(ROOT / "specs/data/tiny/evals/math.jsonl"),
                "--against", str(ROOT / "specs/data/tiny/evals/mc.jsonl")]
    if step == "quality":
        return ["--positive", str(ROOT / "specs/data/tiny/quality_pos"),
                "--negative", str(ROOT / "specs/data/tiny/quality_neg")]
    return STEP_ARGS[step]


def run_one(kind: str, step: str, parts: list[Path], cache: Path, workers: int = 1, python: str | None = None) -> dict:
    """One measured run in its own measuring process, so that peak RSS is this run's alone."""
    out = cache / "out" / f"{kind}-{step}-{len(parts)}-{workers}{'' if kind in ('ours', 'datatrove') else '.jsonl.zst'}"
    subprocess.run(["rm", "-rf", str(out), f"{out}.work"], check=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    if kind == "ours":
        cmd = _ours(step, parts, out, workers, _step_args(step, cache))
    else:
        cmd = [python or sys.executable, str(BASELINES), kind, step, str(out), *map(str, parts)]
    probe = [sys.executable, __file__, "--measure", json.dumps(cmd)]
    r = subprocess.run(probe, capture_output=True, text=True, check=False,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    if r.returncode != 0:
        return {"error": r.stderr[-2000:]}
    result = json.loads(r.stdout.strip().splitlines()[-1])
    result["docs_kept"] = _count_docs(out) if "error" not in result else None
    subprocess.run(["rm", "-rf", str(out), f"{out}.work", f"{out}.dt"], check=False)
    return result


def _count_docs(out: Path) -> int:
    """Documents in an output: a file, or a folder of parts (ours, datatrove's)."""
    import zstandard

    files = sorted(p for p in out.rglob("*.jsonl*")) if out.is_dir() else [out]
    n = 0
    for f in files:
        with open(f, "rb") as raw:
            data = zstandard.ZstdDecompressor().stream_reader(raw).read() if f.suffix == ".zst" else raw.read()
        n += sum(1 for line in data.splitlines() if line.strip())
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "olmospec-bench")
    ap.add_argument("--mb", type=int, default=300)
    ap.add_argument("--big-mb", type=int, default=1200)
    ap.add_argument("--steps", default="exact,minhash,decontaminate,fim,quality,substring")
    ap.add_argument("--datatrove", help="a Python interpreter with datatrove 0.10 installed")
    ap.add_argument("--datatrove-steps", default="exact,minhash",
                    help="which steps to run datatrove for (its MinHash takes ~7 s per MB here)")
    ap.add_argument("--measure", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:  # the measuring process of one run
        print(json.dumps(measure(json.loads(args.measure))))
        return
    small, big = build_corpus(args.cache, args.mb), None
    size = json.loads((small[0].parent / "done").read_text())
    mb = size["bytes"] / 1e6
    print(f"corpus: {mb:.0f} MB of JSON lines, {size['docs']} documents, {N_PARTS} jsonl.zst parts")
    results: dict[str, dict] = {}
    steps = args.steps.split(",")
    for step in steps:
        for workers in (1, 2):
            results[f"ours {step} w{workers}"] = run_one("ours", step, small, args.cache, workers)
        if step in ("exact", "minhash"):
            results[f"baseline {step}"] = run_one("naive" if step == "exact" else "datasketch", step, small, args.cache)
            if args.datatrove and step in args.datatrove_steps.split(","):
                results[f"datatrove {step}"] = run_one("datatrove", step, small, args.cache, python=args.datatrove)
    if args.big_mb:
        big = build_corpus(args.cache, args.big_mb)
        big_size = json.loads((big[0].parent / "done").read_text())["bytes"] / 1e6
        for step in [s for s in steps if s in ("exact", "decontaminate", "minhash")]:
            results[f"ours {step} big w1"] = run_one("ours", step, big, args.cache, 1)
    print(f"\n{'run':32s} {'wall s':>8s} {'MB/s':>8s} {'peak MB':>8s} {'kept':>8s}")
    for name, r in results.items():
        size_mb = big_size if " big " in name else mb
        if "error" in r:
            print(f"{name:32s} failed: {r['error'][-300:]}")
            continue
        r["mb_per_s"] = size_mb / r["wall_s"]
        print(f"{name:32s} {r['wall_s']:8.2f} {r['mb_per_s']:8.1f} {r['peak_mb']:8.0f} {r['docs_kept']!s:>8s}")
    print()
    for step in steps:
        one, two = results.get(f"ours {step} w1", {}), results.get(f"ours {step} w2", {})
        if "wall_s" in one and "wall_s" in two and "error" not in one and "error" not in two:
            print(f"{step}: 2 workers {one['wall_s'] / two['wall_s']:.2f}x faster than 1 (goal 1.7x)")
        base = results.get(f"baseline {step}", {})
        if "peak_mb" in base and "peak_mb" in one:
            print(f"{step}: {base['wall_s'] / one['wall_s']:.2f}x the baseline's speed, "
                  f"{one['peak_mb'] / base['peak_mb']:.2f}x its memory")
        dt = results.get(f"datatrove {step}", {})
        if "peak_mb" in dt and "peak_mb" in one:
            print(f"{step}: {dt['wall_s'] / one['wall_s']:.2f}x datatrove's speed, {one['peak_mb'] / dt['peak_mb']:.2f}x its memory")
        bigr = results.get(f"ours {step} big w1", {})
        if "peak_mb" in bigr and "peak_mb" in one:
            print(f"{step}: peak memory {one['peak_mb']:.0f} MB on {mb:.0f} MB, {bigr['peak_mb']:.0f} MB on "
                  f"{big_size:.0f} MB ({(bigr['peak_mb'] / one['peak_mb'] - 1) * 100:+.0f}%)")
    (args.cache / "results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
