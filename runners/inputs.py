"""Where a stage's documents come from: a source's files (a path or glob), an HF dataset, or an
upstream stage's `docs/` folder; expanded to a stable, sorted list of shards."""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

from runners.curation.io import list_shards


class InputError(Exception):
    """A source that cannot be read: named, with what was looked for."""


def shards_of(cfg: dict[str, Any]) -> list[str]:
    kind = cfg.get("kind")
    if kind == "union":
        return [s for part in cfg["parts"] for s in shards_of(part)]
    if kind == "docs":
        return list_shards([cfg["path"]])
    if kind != "source":
        raise InputError(f"unknown input kind {kind!r}")
    if cfg.get("dataset"):
        from runners.hf_dataset import dataset_shard

        try:
            return [dataset_shard(cfg["dataset"], cfg.get("split") or "train")]
        except ValueError as e:
            raise InputError(f"source '{cfg['name']}': {e}") from None
    pattern = cfg["path"]
    matches = sorted(glob.glob(pattern, recursive=True)) if glob.has_magic(pattern) else [pattern]
    matches = [m for m in matches if Path(m).exists()]
    if not matches:
        raise InputError(f"source '{cfg['name']}': no files match '{pattern}'")
    try:
        shards = list_shards(matches)
    except (ValueError, FileNotFoundError) as e:
        raise InputError(f"source '{cfg['name']}': {e}") from None
    fmt = cfg.get("format", "auto")
    wrong = [s for s in shards if fmt == "parquet" and not s.endswith(".parquet")
             or fmt == "jsonl" and ".jsonl" not in Path(s).name]
    if fmt in ("jsonl", "parquet") and wrong:
        raise InputError(f"source '{cfg['name']}' says format = {fmt}, but {wrong[0]} is not {fmt}")
    return shards


def fields_of(cfg: dict[str, Any]) -> tuple[str, str]:
    """(text field, id field) of an input; a curation's output (`docs`) keeps its source's fields."""
    if cfg.get("kind") in ("source", "docs"):
        return cfg.get("text") or "text", cfg.get("id") or "id"
    if cfg.get("kind") == "union":
        fields = {fields_of(p) for p in cfg["parts"]}
        if len(fields) > 1:
            raise InputError(f"the sources of one curation name their text/id fields differently: {sorted(fields)}")
        return fields.pop() if fields else ("text", "id")
    raise InputError(f"unknown input kind {cfg.get('kind')!r}")


def read_docs(cfg: dict[str, Any], shard: str):
    """(docs, rejects) of one shard of an input, with the spec's text/id fields copied to `text`/`id`
    (bad records become rejects with file and line; a chat record's messages are read as text)."""
    from runners.curation.io import read_shard, text_of

    text_field, id_field = fields_of(cfg)
    docs, rejects = read_shard(shard, text_field=text_field, id_field=id_field)
    if text_field != "text" or id_field != "id":
        docs = [{**d, "text": text_of(d, text_field), "id": d[id_field]} for d in docs]
    return docs, rejects


def read_texts(inputs: list[dict[str, Any]]) -> tuple[list[str], int]:
    """The texts of several inputs, in order, and how many records were unreadable."""
    texts: list[str] = []
    rejects = 0
    for inp in inputs:
        docs, bad = read_all(inp)
        texts += [d["text"] for d in docs]
        rejects += len(bad)
    return texts, rejects


def input_parts(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The inputs a union stands for, each with its own text/id fields; any other input is itself."""
    if cfg.get("kind") == "union":
        return [p for part in cfg["parts"] for p in input_parts(part)]
    return [cfg]


def read_all(cfg: dict[str, Any]):
    docs, rejects = [], []
    for part in input_parts(cfg):
        for shard in shards_of(part):
            d, r = read_docs(part, shard)
            docs += d
            rejects += r
    return docs, rejects
