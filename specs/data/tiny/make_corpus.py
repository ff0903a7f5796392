"""Generate the small real corpus that the embedded default spec `specs/tiny.ospec` trains on.

Why: the tiny flow must run end to end on 2 CPU cores with real data that exercises every
curation step (exact, near and substring dedup, quality filtering, decontamination, upsampling)
and a task a 1-4M parameter model can learn (2- and 3-digit addition and subtraction word
problems), with ground truth for what curation should find. The corpus is committed; this
script is how it was made and how to check it.

Deterministic: fixed seeds (one per source), sorted file listings, gzip mtime=0, fixed zstd
level, fixed parquet layout; two runs on the same machine image give byte-identical files. It
reads text installed on this machine image (dpkg status, /usr/share/common-licenses,
/usr/share/doc/*/copyright, the Python 3.11 standard library), so another image can differ.

Usage: python specs/data/tiny/make_corpus.py [--out DIR]      (default: this folder)
Needs: Python 3.11+, pyarrow and zstandard (numpy is not needed).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.dont_write_bytecode = True  # keep __pycache__ out of the committed folder
sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import arithmetic as A
from corpus import machine as M
from corpus import report
from corpus import sources as S
from corpus import web as W
from corpus.text import write_json, write_jsonl, write_parquet

SEED = 20251129
N_EVAL_MATH, N_EVAL_MC_ARITH, N_EVAL_MC_COMPARE, N_EVAL_IFEVAL = 300, 150, 50, 100
N_MATH_PRETRAIN_DOCS, N_MATH_MID, N_MID_CONTAMINATED = 9000, 10000, 30
N_SFT_MATH, N_SFT_IF = 6000, 400
N_RL_MATH, N_RL_IF, N_DPO_MATH, N_DPO_IF = 2000, 300, 2000, 200
N_QUALITY, N_FLAN, N_HAYSTACK, HAYSTACK_WORDS = 3000, 4000, 20, 5000
CODE_BYTES, CODE_FILE_BYTES = 3_500_000, 100_000


def build(out: Path) -> dict:
    """Write every file of the corpus under `out`; return the statistics (also written)."""
    pkgs, lics, cps, docs = M.packages(), M.licenses(), M.copyright_files(), M.docstrings()

    # evaluation first: its identities are what every training generator must avoid
    held = A.held_out_identities(SEED, N_EVAL_MATH + N_EVAL_MC_ARITH)
    excluded = {A.identity(*h) for h in held}
    train_pkgs, eval_pkgs = S.split_packages(pkgs)
    ev_math = S.eval_math(held[:N_EVAL_MATH], SEED)
    ev_mc = S.eval_mc(held[N_EVAL_MATH:], N_EVAL_MC_COMPARE, SEED)
    ev_if = S.eval_ifeval(eval_pkgs, N_EVAL_IFEVAL, SEED)

    real_web = S.web_real(pkgs, lics, cps, docs)
    qpos, qneg, chain = S.quality_sets(pkgs, cps, M.package_docstrings(), real_web, SEED, N_QUALITY)
    shards, planted = W.build(real_web, ev_math + ev_mc, chain, SEED)
    used = {c["eval_id"] for c in planted["contamination"]}
    mid, mid_planted = W.plant_in_math_mid(S.math_mid(excluded, N_MATH_MID, SEED), ev_math, used,
                                           N_MID_CONTAMINATED, SEED)
    planted["contamination"] += mid_planted
    long, pdfs = S.long_docs(pkgs, lics, cps, SEED)
    pdfs = S.pdf_volumes(docs) + pdfs
    code = [{"id": f"code-{path}", "text": src, "path": path, "license": "PSF-2.0", "language": "python"}
            for path, src in M.stdlib_sources(CODE_BYTES, CODE_FILE_BYTES)]

    files = {
        **{f"web/web-{k:04d}.jsonl.zst": s for k, s in enumerate(shards)},
        "code/stdlib-0000.parquet": code,
        "pdfs/pdfs-0000.jsonl.gz": pdfs,
        "long/long-0000.jsonl.gz": long,
        "quality_pos/pos-0000.jsonl.gz": qpos,
        "quality_neg/neg-0000.jsonl.gz": qneg,
        "math_pretrain/math-0000.jsonl.zst": S.math_pretrain(excluded, N_MATH_PRETRAIN_DOCS, SEED),
        "math_mid/math-0000.jsonl.zst": mid,
        "sft/sft.jsonl": S.sft(excluded, train_pkgs, N_SFT_MATH, N_SFT_IF, SEED),
        "rl_prompts/rl.jsonl": S.prompts(excluded, train_pkgs, N_RL_MATH, N_RL_IF, "rl-prompts", SEED),
        "dpo_prompts/dpo.jsonl": S.prompts(excluded, train_pkgs, N_DPO_MATH, N_DPO_IF, "dpo-prompts", SEED),
        "flan/flan-0000.jsonl.zst": S.flan(pkgs, docs, SEED, N_FLAN),
        "ruler/haystack.jsonl": S.haystacks(real_web, N_HAYSTACK, HAYSTACK_WORDS, SEED),
        "evals/math.jsonl": ev_math,
        "evals/mc.jsonl": ev_mc,
        "evals/ifeval.jsonl": ev_if,
    }
    for rel, records in files.items():
        if rel.endswith(".parquet"):
            write_parquet(out / rel, records, ["id", "text", "path", "license", "language"])
        else:
            write_jsonl(out / rel, records)
    write_json(out / "web/_planted.json", planted)
    stats = report.statistics(out, sorted(files), planted, excluded, SEED)
    write_json(out / "corpus_stats.json", stats)
    (out / "README.md").write_text(report.readme(stats), encoding="ascii")
    return stats


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                    help="output folder (default: this script's folder)")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    stats = build(args.out)
    digest = hashlib.sha256("".join(f["sha256"] for f in stats["files"].values()).encode()).hexdigest()
    print(f"wrote {len(stats['files'])} data files, {stats['total_bytes_on_disk'] / 1e6:.2f} MB, "
          f"tree digest {digest[:16]}, in {time.perf_counter() - t0:.1f} s")
    for name, src in stats["sources"].items():
        print(f"  {name:14s} {src['records']:7d} records  {src['bytes_on_disk'] / 1e6:6.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
