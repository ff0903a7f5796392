"""The `curate` stage: one curation step (exact, minhash, substring, quality, upsample,
decontaminate, fim) over the previous step's documents or a source's files.

Outputs under runs/<id>/: `docs/` (kept documents, every field kept), `removed.jsonl` (id, reason,
detail for everything not kept), `rejects.jsonl` (unreadable input records with file and line) and
`stats.json` (counts per reason plus the step's own figures). Dedup steps run their map/reduce/apply
phases on the local executor with per-shard completion markers under runs/<id>/work/, so a killed
stage resumes.

    python -m runners.curate --config stages/<curation>-<step>-<hash>.json
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import StageFailure, stage_main

DOCS_FILE = "part-00000.jsonl.zst"


def _dedup(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    from runners.curation.exact import run_exact
    from runners.curation.io import sibling
    from runners.curation.lsh import run_minhash
    from runners.curation.substring import run_substring
    from runners.inputs import fields_of, shards_of

    step = dict(cfg["step"])
    kind = step.pop("kind")
    text_field, id_field = fields_of(cfg["input"])
    if (text_field, id_field) != ("text", "id"):
        raise StageFailure(f"step '{kind}' reads sources with text/id fields named 'text' and 'id'; put a step "
                           f"such as 'decontaminate' or 'quality' first to rename '{text_field}'/'{id_field}'")
    output = out / "docs" / DOCS_FILE
    output.parent.mkdir(parents=True, exist_ok=True)
    common = {"workers": int(os.environ.get("OLMOSPEC_WORKERS", "0")) or None, "work_dir": out / "work"}
    shards = shards_of(cfg["input"])
    if kind == "exact":
        stats = run_exact(shards, output, **common)
    elif kind == "minhash":
        stats = run_minhash(shards, output, threshold=step["threshold"], ngram=step["ngram"], bands=step["bands"],
                            rows=step["rows"], permutations=step["permutations"], max_cluster=step["max_cluster"],
                            **common)
    else:
        stats = run_substring(shards, output, min_bytes=step["min_bytes"], **common)
    for what, dest in (("removed", "removed.jsonl"), ("rejects", "rejects.jsonl")):
        src = Path(sibling(output, what))
        if src.exists():
            os.replace(src, out / dest)
        else:
            (out / dest).write_text("")
    stats_file = Path(sibling(output, "stats"))
    if stats_file.exists():
        stats_file.unlink()
    return stats


def _in_memory(cfg: dict[str, Any], out: Path) -> dict[str, Any]:
    from runners.curation import io as cio
    from runners.inputs import read_all

    step = cfg["step"]
    kind = step["kind"]
    docs, rejects = read_all(cfg["input"])
    if kind == "quality":
        from runners.curation.quality import QualityModel, score_documents

        result = score_documents(docs, QualityModel.load(cfg["classifier"]))
    elif kind == "upsample":
        from runners.curation.upsample import upsample

        group = None if step["per"] == "source" else step["per"]
        if step["tokens"] is not None:
            result = upsample(docs, target_tokens=step["tokens"], drop_below=step["drop_below"],
                              max_repeat=step["max_repeat"], seed=step["seed"], group_field=group)
        else:
            result = upsample(docs, ratio=1.0, drop_below=step["drop_below"], max_repeat=step["max_repeat"],
                              seed=step["seed"], group_field=group)
    elif kind == "decontaminate":
        from runners.curation.decontam import build_index, decontaminate

        benchmarks = {}
        for task in cfg["tasks"]:
            if not task.get("path"):
                raise StageFailure(f"task '{task['name']}' has no local file to decontaminate against")
            benchmarks[task["name"]] = list(cio.iter_jsonl(task["path"]))
        index = build_index(benchmarks, n=step["ngram"])
        result = decontaminate(docs, index, min_overlap=step["min_overlap"])
    elif kind == "fim":
        from runners.curation.fim import apply_fim

        result = apply_fim(docs, rate=step["rate"], spm_rate=step["spm"], seed=step["seed"])
    else:
        raise StageFailure(f"unknown curation step '{kind}'")
    (out / "docs").mkdir(parents=True, exist_ok=True)
    cio.write_docs(out / "docs" / DOCS_FILE, result.kept)
    cio.write_jsonl(out / "removed.jsonl", [r.to_json() for r in result.removed])
    cio.write_jsonl(out / "rejects.jsonl", [r.to_json() for r in rejects])
    # Same keys as the dedup runs' stats, so every curation step reports alike.
    return {"docs_in": len(docs), "docs_kept": len(result.kept), "docs_removed": len(result.removed),
            "rejects": len(rejects), "removed_by_reason": dict(sorted(Counter(r.reason for r in result.removed).items())),
            **{k: v for k, v in result.stats.items() if k not in ("kept", "removed")}}


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    out = Path(cfg["output"])
    if (out / "docs").exists():  # a previous, unfinished attempt; dedup resumes from work/
        shutil.rmtree(out / "docs")
    kind = cfg["step"]["kind"]
    stats = _dedup(cfg, out) if kind in ("exact", "minhash", "substring") else _in_memory(cfg, out)
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
