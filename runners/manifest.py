"""The `manifest` stage: what a source holds, before anything reads it for real.

For each file of a source: its bytes, SHA-256, documents, unreadable records and (when the project
has a tokenizer) tokens, with the source's declared `license` (the data card of a published run says
under which terms its data came). Later stages and the compiler's mix checks use the totals; the
content hashes make every downstream number traceable to the exact input bytes.

    python -m runners.manifest --config stages/manifest-web-1a2b3c4d.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.common import sha256_file, write_json
from runners.inputs import read_docs, shards_of
from runners.stage_main import stage_main


def _count_tokens(tokenizer_path: str, texts: list[str]) -> int:
    """Tokens as the tokenize stage will write them (text encoded as text), EOS not counted."""
    from runners.curation.tokenize import count_tokens, load_tokenizer

    return sum(count_tokens(texts, load_tokenizer(tokenizer_path)))


def _files(shard: str) -> list[Path]:
    """The files a shard's bytes live in: itself, or a dataset's (a saved folder's, the cache's)."""
    from runners.curation.io import is_hf_dataset

    if is_hf_dataset(shard) or Path(shard).is_dir():
        from runners.hf_dataset import dataset_files

        return dataset_files(shard)
    return [Path(shard)]


def _digest(shard: str, parts: list[Path]) -> str:
    """A file's SHA-256; for a dataset, the SHA-256 of its files' names and SHA-256s."""
    if parts == [Path(shard)]:
        return sha256_file(shard)
    import hashlib

    lines = "".join(f"{f.name}\0{sha256_file(f)}\n" for f in parts)
    return hashlib.sha256(lines.encode()).hexdigest()


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    src = cfg["source"]
    files = []
    totals = {"files": 0, "bytes": 0, "docs": 0, "rejects": 0, "chars": 0, "tokens": None}
    tokens = 0 if cfg.get("tokenizer") else None
    for shard in shards_of(src):
        docs, rejects = read_docs(src, shard)
        parts = _files(shard)
        size = sum(f.stat().st_size for f in parts)
        entry = {"path": shard, "bytes": size, "sha256": _digest(shard, parts),
                 "docs": len(docs), "rejects": len(rejects), "chars": sum(len(d["text"]) for d in docs)}
        if tokens is not None:
            entry["tokens"] = _count_tokens(cfg["tokenizer"], [d["text"] for d in docs])
            tokens += entry["tokens"]
        files.append(entry)
        for k in ("bytes", "docs", "rejects", "chars"):
            totals[k] += entry[k]
        totals["files"] += 1
    totals["tokens"] = tokens
    return {"source": src["name"], "license": cfg.get("license"), "files": files, "totals": totals}


def run_stage(cfg: dict[str, Any]) -> dict[str, Any]:
    """`run` plus the stage's files: manifest.json, metrics.json (and the receipt, by stage_main)."""
    manifest = run(cfg)
    out = Path(cfg["output"])
    write_json(out / "manifest.json", manifest)
    write_json(out / "metrics.json", manifest["totals"])
    t = manifest["totals"]
    print(f"manifest {manifest['source']}: {t['files']} files, {t['docs']} docs, {t['bytes']} bytes"
          + (f", {t['tokens']} tokens" if t["tokens"] is not None else "")
          + (f", {t['rejects']} unreadable records" if t["rejects"] else ""))
    return {"inputs": {f["path"]: f["sha256"] for f in manifest["files"]}}


def main(argv: list[str] | None = None) -> None:
    stage_main("manifest", __doc__, run_stage, argv)


if __name__ == "__main__":
    main()
