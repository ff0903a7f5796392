"""`olmospec data STEP INPUT... OUTPUT [--option value ...]`: one curation step on your own files,
without a spec. Kept documents go to OUTPUT (jsonl, every input field kept), removed ones with their
reasons to OUTPUT's `.removed.jsonl` sibling, unreadable records to `.rejects.jsonl`, and a stats
summary is printed (`--json` for JSON). Options mirror the spec's fields:

    olmospec data exact in.jsonl out.jsonl
    olmospec data minhash in/*.jsonl.zst out.jsonl --threshold 0.8 --ngram 5 [--bands 26 --rows 11]
    olmospec data substring in.jsonl out.jsonl --min-bytes 500
    olmospec data decontaminate in.jsonl out.jsonl --against EVAL.jsonl [--against ...] --ngram 8
    olmospec data fim code.parquet out.jsonl --rate 0.5 --spm 0.5
    olmospec data quality in.jsonl out.jsonl --positive good.jsonl --negative bad.jsonl
                                          (also writes the classifier: out.quality_model.bin)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="olmospec data", description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="step", required=True, metavar="STEP")

    def step(name: str, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_)
        p.add_argument("paths", nargs="+", metavar="INPUT... OUTPUT")
        p.add_argument("--text-field", default="text")
        p.add_argument("--id-field", default="id")
        p.add_argument("--json", action="store_true", help="print the stats as JSON")
        return p

    p = step("exact", "exact dedup on normalized text (128-bit hash)")
    p.add_argument("--workers", type=int)
    p = step("minhash", "MinHash LSH near-duplicate removal with exact-Jaccard verification")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--ngram", type=int, default=5)
    p.add_argument("--bands", type=int)
    p.add_argument("--rows", type=int)
    p.add_argument("--permutations", type=int)
    p.add_argument("--max-cluster", type=int, default=500)
    p.add_argument("--workers", type=int)
    p = step("substring", "suffix-array removal of repeated byte spans (one copy kept)")
    p.add_argument("--min-bytes", type=int, default=500)
    p.add_argument("--workers", type=int)
    p = step("decontaminate", "remove documents that contain evaluation items (n-gram overlap)")
    p.add_argument("--against", action="append", required=True, help="an evaluation jsonl (repeatable)")
    p.add_argument("--ngram", type=int, default=8)
    p.add_argument("--min-overlap", type=float, default=0.5)
    p = step("fim", "fill-in-the-middle rewrite for code (PSM/SPM)")
    p.add_argument("--rate", type=float, default=0.5)
    p.add_argument("--spm", type=float, default=0.5)
    p.add_argument("--seed", type=int, default=0)
    p = step("quality", "train a quality classifier and score every document (field `quality`)")
    p.add_argument("--positive", action="append", required=True)
    p.add_argument("--negative", action="append", required=True)
    return ap


def _read(paths: list[str], text_field: str, id_field: str):
    from runners.curation.io import list_shards, read_shard

    docs, rejects = [], []
    for shard in list_shards(paths):
        d, r = read_shard(shard, text_field=text_field, id_field=id_field)
        docs += d
        rejects += r
    return docs, rejects


def _docwise(args, inputs: list[str], output: str) -> dict[str, Any]:
    from runners.curation.sharded import run_docwise

    if args.step == "decontaminate":
        # keyed by path: two files named test.jsonl in different folders are two benchmarks
        params = {"against": {p: p for p in args.against}, "ngram": args.ngram,
                  "min_overlap": args.min_overlap}
    elif args.step == "fim":
        params = {"rate": args.rate, "spm_rate": args.spm, "seed": args.seed}
    else:
        return _quality(args, inputs, output)
    return run_docwise(args.step, inputs, output, params, text_field=args.text_field, id_field=args.id_field)


def _quality(args, inputs: list[str], output: str) -> dict[str, Any]:
    """Train the classifier on --positive/--negative, then score; unreadable training records are
    counted in the stats and listed (file, line, reason) in OUTPUT's `.classifier_rejects.jsonl`."""
    from runners.curation.io import sibling, write_jsonl
    from runners.curation.quality import train
    from runners.curation.sharded import run_docwise

    pos, bad_pos = _read(args.positive, args.text_field, args.id_field)
    neg, bad_neg = _read(args.negative, args.text_field, args.id_field)
    model = train([d[args.text_field] for d in pos], [d[args.text_field] for d in neg])
    model_path = str(Path(output).with_suffix("")) + ".quality_model.bin"
    model.save(model_path)
    rejects_path = sibling(output, "classifier_rejects")
    write_jsonl(rejects_path, [{**r.to_json(), "role": role} for role, bad in (("positive", bad_pos),
                                                                             ("negative", bad_neg)) for r in bad])
    classifier = {"positive_docs": len(pos), "negative_docs": len(neg), "positive_rejects": len(bad_pos),
                  "negative_rejects": len(bad_neg), "rejects_file": rejects_path, "model": model_path}
    return run_docwise("quality", inputs, output, {"model": model_path}, text_field=args.text_field,
                       id_field=args.id_field, extra_stats={"classifier": classifier})


def run(args) -> dict[str, Any]:
    if len(args.paths) < 2:
        raise ValueError("give at least one INPUT and an OUTPUT")
    *inputs, output = args.paths
    fields = {"text_field": args.text_field, "id_field": args.id_field}
    if args.step == "exact":
        from runners.curation.exact import run_exact

        return run_exact(inputs, output, workers=args.workers, **fields)
    if args.step == "minhash":
        from runners.curation.lsh import run_minhash

        return run_minhash(inputs, output, threshold=args.threshold, ngram=args.ngram, bands=args.bands,
                           rows=args.rows, permutations=args.permutations, max_cluster=args.max_cluster,
                           workers=args.workers, **fields)
    if args.step == "substring":
        from runners.curation.substring import run_substring

        return run_substring(inputs, output, min_bytes=args.min_bytes, workers=args.workers, **fields)
    return _docwise(args, inputs, output)


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        stats = run(args)
    except (ValueError, FileNotFoundError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    if args.json:
        print(json.dumps(stats, indent=2, default=str))
        return
    reasons = stats.get("removed_by_reason") or {}
    print(f"{args.step}: {stats.get('docs_in')} documents in, {stats.get('docs_kept')} kept, "
          f"{stats.get('docs_removed')} removed" + (f" ({', '.join(f'{v} {k}' for k, v in reasons.items())})"
                                                     if reasons else "")
          + (f", {stats['rejects']} unreadable" if stats.get("rejects") else ""))
    c = stats.get("classifier")
    if c:
        bad = c["positive_rejects"] + c["negative_rejects"]
        print(f"classifier: trained on {c['positive_docs']} positive and {c['negative_docs']} negative documents"
              + (f"; {c['positive_rejects']} positive and {c['negative_rejects']} negative records unreadable "
                 f"(listed in {c['rejects_file']})" if bad else ""))


if __name__ == "__main__":
    main()
