"""The `curate` stage: one curation step (exact, minhash, substring, quality, upsample,
decontaminate, fim) over the previous step's documents or a source's files.

Outputs under runs/<id>/: `docs/` (kept records, every field kept: a chat record's `messages`, a
prompt's `prompt`/`answer` stay as they are, so the SFT, DPO and RLVR stages read a curation as they
read its source; the text field is the source's `text = ...`), `removed.jsonl` (id, reason,
detail for everything not kept), `rejects.jsonl` (unreadable input records with file and line) and
`stats.json` (counts per reason plus the step's own figures). Every step runs shard by shard on the
local executor (OLMOSPEC_WORKERS processes; default all cores) with per-shard completion markers
under runs/<id>/work/, so a killed stage resumes. `OLMOSPEC_EXECUTOR=ray` runs the same steps on Ray
(a local instance, or the cluster that `RAY_ADDRESS` names).

    python -m runners.curate --config stages/<curation>-<step>-<hash>.json
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import StageFailure, stage_main

DOCS_FILE = "part-00000.jsonl.zst"


def _params(cfg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    step = dict(cfg["step"])
    kind = step.pop("kind")
    if kind == "decontaminate":
        missing = [t["name"] for t in cfg["tasks"] if not t.get("path")]
        if missing:
            raise StageFailure(f"task(s) {', '.join(missing)} have no local file to decontaminate against")
        return kind, {"against": {t["name"]: t["path"] for t in cfg["tasks"]}, "ngram": step["ngram"],
                      "min_overlap": step["min_overlap"]}
    if kind == "fim":
        return kind, {"rate": step["rate"], "spm_rate": step["spm"], "seed": step["seed"]}
    if kind == "quality":
        return kind, {"model": cfg["classifier"]}
    return kind, step


def _run_step(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    from runners.curation.exact import run_exact
    from runners.curation.io import sibling
    from runners.curation.lsh import run_minhash
    from runners.curation.sharded import run_docwise, run_upsample
    from runners.curation.substring import run_substring
    from runners.inputs import fields_of, shards_of

    kind, p = _params(cfg)
    text_field, id_field = fields_of(cfg["input"])
    if id_field != "id":
        raise StageFailure(f"curation reads documents whose id field is 'id'; source "
                           f"'{cfg['input'].get('name')}' uses '{id_field}'")
    output = out / "docs" / DOCS_FILE
    output.parent.mkdir(parents=True, exist_ok=True)
    # Runtime, not identity: where the step runs never changes what it produces.
    common = {"workers": int(os.environ.get("OLMOSPEC_WORKERS", "0")) or None, "work_dir": out / "work",
              "executor": os.environ.get("OLMOSPEC_EXECUTOR") or None, "text_field": text_field}
    shards = shards_of(cfg["input"])
    if kind == "exact":
        stats = run_exact(shards, output, **common)
    elif kind == "minhash":
        stats = run_minhash(shards, output, threshold=p["threshold"], ngram=p["ngram"], bands=p["bands"],
                            rows=p["rows"], permutations=p["permutations"], max_cluster=p["max_cluster"], **common)
    elif kind == "substring":
        stats = run_substring(shards, output, min_bytes=p["min_bytes"], **common)
    elif kind == "upsample":
        if p["tokens"] is not None and not cfg.get("tokenizer"):
            raise StageFailure("upsample 'tokens' are counted with the project's tokenizer, and this stage has none")
        stats = run_upsample(shards, output, drop_below=p["drop_below"], max_repeat=p["max_repeat"],
                             target_tokens=p["tokens"] if p.get("words") is None else p["words"],
                             tokenizer=cfg.get("tokenizer"), group_field=None if p["per"] == "source" else p["per"],
                             seed=p["seed"], **common)
    else:
        stats = run_docwise(kind, shards, output, p, **common)
    for what, dest in (("removed", "removed.jsonl"), ("rejects", "rejects.jsonl")):
        src = Path(sibling(output, what))
        if src.exists():
            os.replace(src, out / dest)
        else:
            (out / dest).write_text("")
    Path(sibling(output, "stats")).unlink(missing_ok=True)
    return stats


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    out = Path(cfg["output"])
    if (out / "docs").exists():  # a previous, unfinished attempt; dedup resumes from work/
        shutil.rmtree(out / "docs")
    kind = cfg["step"]["kind"]
    stats = _run_step(cfg, out)
    stats = json.loads(json.dumps(stats, default=str))
    write_json(out / "stats.json", {"step": kind, **stats})
    reasons = stats.get("removed_by_reason") or {}
    print(f"curate {cfg['stage_id']}: kept {stats.get('docs_kept')} of {stats.get('docs_in')}"
          + (f", removed {', '.join(f'{v} {k}' for k, v in reasons.items())}" if reasons else "")
          + (f", {stats['docs_modified']} cut ({stats['bytes_removed']} bytes)" if stats.get("docs_modified") else ""))
    return stats


def main(argv: list[str] | None = None) -> None:
    stage_main("curate", __doc__, run, argv)


if __name__ == "__main__":
    main()
