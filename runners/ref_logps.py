"""The reference log-prob stage of DPO: the pairs, tokenized and checked, with the reference model's
log-probs, computed once and kept as a DVC output.

    python -m runners.ref_logps --config stages/<stage>-ref-<hash>.json

Its DVC dependencies are exactly what the numbers depend on: the pair set, the reference model's
`hf/` folder (weights, tokenizer, chat template) and this config (sequence length, length control,
held-out share, seed). So changing any of them recomputes the reference log-probs, and nothing
else (beta, the loss, the learning rate) does; a stale cache cannot be reused by mistake.

For each pair record (a `pairs` stage output or a source of pairs): both sides are tokenized with
the reference model's tokenizer and chat template (`runners.dpo.data.encode_side`); a side longer
than `seq_len` sends the record to the rejects (with file and line, like unreadable records); pairs
whose completion lengths differ by more than `length_control` tokens are removed (reason
`length_gap`); a hash of (seed, id) puts a `heldout` share of the rest aside. Outputs in
runs/<id>/: `pairs.parquet` (runners.dpo.data), `removed.jsonl`, `rejects.jsonl`, `stats.json`
(counts, completion lengths and length gaps before and after length control; the speed is in
`receipt.json`) and
`plots/lengths.csv` (each pair's completion lengths and gap, and whether length control kept it).
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

from runners.allocator import keep_freed_memory
from runners.common import sha256_file, write_json
from runners.stage_main import StageFailure, stage_main


def _summary(chosen: list[int], rejected: list[int]) -> dict[str, Any]:
    if not chosen:
        return {"pairs": 0}
    gaps = [abs(a - b) for a, b in zip(chosen, rejected, strict=True)]
    n = len(chosen)
    return {"pairs": n, "chosen_tokens_mean": round(sum(chosen) / n, 2), "rejected_tokens_mean": round(sum(rejected) / n, 2),
            "chosen_tokens_max": max(chosen), "rejected_tokens_max": max(rejected),
            "length_gap_mean": round(sum(gaps) / n, 2), "length_gap_max": max(gaps)}


def _write_parquet(path: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from runners.curation.io import atomic_path
    from runners.dpo.data import COLUMNS

    table = pa.Table.from_pylist(rows, schema=pa.schema([
        ("id", pa.string()), ("split", pa.string()), ("chosen_ids", pa.list_(pa.int32())), ("chosen_start", pa.int32()),
        ("rejected_ids", pa.list_(pa.int32())), ("rejected_start", pa.int32()), ("chosen_tokens", pa.int32()),
        ("rejected_tokens", pa.int32()), ("ref_chosen_logp", pa.float64()), ("ref_rejected_logp", pa.float64()),
        ("ref_chosen_mean", pa.float64()), ("ref_rejected_mean", pa.float64()), ("file", pa.string()),
        ("line", pa.int64()), ("kept_by", pa.list_(pa.string()))]))
    assert tuple(table.column_names) == COLUMNS
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Completion lengths per pair before length control (a DVC plot), written atomically."""
    import csv

    from runners.curation.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.DictWriter(f, ["id", "chosen_tokens", "rejected_tokens", "length_gap", "kept"])
        w.writeheader()
        w.writerows(rows)


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    import torch

    from runners.curation.io import write_jsonl
    from runners.dpo.data import encode_side, pair_logps, split_of
    from runners.dpo.records import read
    from runners.generate.hf import load_model
    from runners.train.parallel import compute_dtype

    keep_freed_memory()
    runtime = cfg.get("runtime") or {}
    if runtime.get("threads"):
        torch.set_num_threads(runtime["threads"])
    out, seq_len, gap_cap = Path(cfg["output"]), cfg["seq_len"], cfg.get("length_control")
    got = read(cfg["pairs"], pairs=True, limit=cfg.get("max_pairs"))
    device = torch.device(runtime.get("device", "auto") if runtime.get("device", "auto") != "auto"
                          else ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = compute_dtype(device, runtime.get("dtype", "auto"))
    model, tok = load_model(cfg["model"], device, torch.float32)
    if not getattr(tok, "chat_template", None):
        raise StageFailure(f"{cfg['model']}: the reference model's tokenizer has no chat template")
    seqs, before, removed, lengths, unreadable = [], ([], []), [], [], len(got.rejects)
    for file, line, rec in got.records:
        c_ids, c_start = encode_side(tok, rec["prompt"], rec["chosen"])
        r_ids, r_start = encode_side(tok, rec["prompt"], rec["rejected"])
        too_long = [s for s, ids in (("chosen", c_ids), ("rejected", r_ids)) if len(ids) > seq_len]
        if too_long:
            got.reject(file, line, f"{too_long[0]}_longer_than_seq", rec["id"])
            continue
        lc, lr = len(c_ids) - c_start, len(r_ids) - r_start
        before[0].append(lc)
        before[1].append(lr)
        gap_ok = gap_cap is None or abs(lc - lr) <= gap_cap
        lengths.append({"id": rec["id"], "chosen_tokens": lc, "rejected_tokens": lr, "length_gap": abs(lc - lr),
                        "kept": int(gap_ok)})
        if not gap_ok:
            removed.append({"id": rec["id"], "reason": "length_gap", "detail": {"chosen_tokens": lc, "rejected_tokens": lr}})
            continue
        kept_by = list((rec.get("provenance") or {}).get("kept_by") or []) + (["length_control"] if gap_cap else [])
        seqs.append({"rec": rec, "file": file, "line": line, "chosen": (c_ids, c_start), "rejected": (r_ids, r_start),
                     "kept_by": kept_by})
    write_jsonl(out / "removed.jsonl", removed)
    write_jsonl(out / "rejects.jsonl", [r.to_json() for r in got.rejects])  # also when nothing is left: to look at
    _write_csv(out / "plots" / "lengths.csv", lengths)
    if not seqs:
        raise StageFailure(f"no usable pairs: {len(got.rejects)} rejected {got.counts()}, {len(removed)} removed by "
                           "length control")
    t0 = time.perf_counter()
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
    n = len(seqs)
    for x in seqs:
        x["split"] = split_of(x["rec"]["id"], cfg["seed"], cfg["heldout"])
    for split in ("train", "heldout"):  # each split on its own, as the DPO stage scores the held-out one
        part = [x for x in seqs if x["split"] == split]
        if part:
            scored = pair_logps(model, [x["chosen"] for x in part], [x["rejected"] for x in part], pad,
                                runtime.get("micro_batch"), device, dtype)
            for k, x in enumerate(part):
                x["logp"] = [float(scored[0][k]), float(scored[1][k])]
                x["tokens"] = [int(scored[2][k]), int(scored[3][k])]
    seconds = time.perf_counter() - t0
    rows = []
    for x in seqs:
        (c_lp, r_lp), (c_n, r_n) = x["logp"], x["tokens"]
        rows.append({"id": x["rec"]["id"], "split": x["split"],
                     "chosen_ids": x["chosen"][0], "chosen_start": x["chosen"][1], "rejected_ids": x["rejected"][0],
                     "rejected_start": x["rejected"][1], "chosen_tokens": c_n, "rejected_tokens": r_n,
                     "ref_chosen_logp": c_lp, "ref_rejected_logp": r_lp,
                     "ref_chosen_mean": c_lp / max(c_n, 1), "ref_rejected_mean": r_lp / max(r_n, 1),
                     "file": x["file"], "line": x["line"], "kept_by": x["kept_by"]})
    _write_parquet(out / "pairs.parquet", rows)
    splits = Counter(r["split"] for r in rows)
    tokens = sum(len(x[s][0]) for x in seqs for s in ("chosen", "rejected"))
    stats = {
        "records_in": len(got.records) + unreadable,
        "rejects": len(got.rejects), "rejects_by_reason": got.counts(),
        "removed": len(removed), "removed_by_reason": dict(sorted(Counter(r["reason"] for r in removed).items())),
        "pairs": n, "train_pairs": splits.get("train", 0), "heldout_pairs": splits.get("heldout", 0),
        "length_control": gap_cap,
        "before_length_control": _summary(*before),
        "after_length_control": _summary([r["chosen_tokens"] for r in rows], [r["rejected_tokens"] for r in rows]),
        "ref_chosen_mean_logp": round(sum(r["ref_chosen_mean"] for r in rows) / n, 4),
        "ref_rejected_mean_logp": round(sum(r["ref_rejected_mean"] for r in rows) / n, 4),
    }
    write_json(out / "stats.json", stats)  # results only; the speed goes to the receipt
    throughput = {"tokens_per_s": round(tokens / max(seconds, 1e-9), 1)}
    print(f"ref_logps: {n} pairs ({splits.get('heldout', 0)} held out), {len(got.rejects)} rejected {got.counts()}, "
          f"{len(removed)} removed by length control, {throughput['tokens_per_s']} tokens/s")
    weights = sorted(Path(cfg["model"]).glob("*.safetensors"))
    return {"inputs": {str(w): sha256_file(w) for w in weights}, "throughput": throughput, **stats}


def main(argv: list[str] | None = None) -> None:
    stage_main("ref_logps", __doc__, run, argv)


if __name__ == "__main__":
    main()
