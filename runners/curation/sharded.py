"""Decontamination, FIM, quality scoring and quality-aware upsampling, run shard by shard through the
same stage plumbing as the dedup runs (runners/curation/stage.py): per-shard outputs with completion
markers, so a killed run resumes, and identical results for any number of workers.

Decontamination, FIM and scoring decide per document: one apply phase. Upsampling needs each group's
token-weighted percentiles: a map phase writes (id, score, tokens, group) per shard, a reduce phase
fits each group's curve (`upsample.plan_group`), an apply phase writes the repeat counts.

    run_docwise("fim", inputs, "out.jsonl", {"rate": 0.5, "spm_rate": 0.5, "seed": 0})
    run_upsample(inputs, "out.jsonl", drop_below=0.4, max_repeat=7.0, group_field="topic")
"""

from __future__ import annotations

import functools
import json
import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from runners.curation.base import Doc, Removed, StepResult
from runners.curation.executor import Executor, Summary, Task
from runners.curation.io import atomic_path, iter_jsonl, text_of
from runners.curation.stage import finish, prepare, read_task_shard, write_rejects, write_result


@functools.lru_cache(maxsize=4)
def _index(tasks: tuple[tuple[str, str], ...], n: int):
    from runners.curation.decontam import build_index

    return build_index({name: list(iter_jsonl(path)) for name, path in tasks}, n=n)


@functools.lru_cache(maxsize=4)
def _model(path: str):
    from runners.curation.quality import QualityModel

    return QualityModel.load(path)


def _apply_docwise(docs: list[Doc], step: str, p: dict[str, Any], text_field: str) -> StepResult:
    if step == "decontaminate":
        from runners.curation.decontam import decontaminate

        tasks = tuple(sorted((k, v) for k, v in p["against"].items()))
        return decontaminate(docs, _index(tasks, p["ngram"]), min_overlap=p["min_overlap"], text_field=text_field)
    if step == "fim":
        from runners.curation.fim import apply_fim

        return apply_fim(docs, rate=p["rate"], spm_rate=p["spm_rate"], seed=p["seed"], text_field=text_field)
    if step == "quality":
        from runners.curation.quality import score_documents

        return score_documents(docs, _model(p["model"]), text_field=text_field)
    raise ValueError(f"unknown per-document step {step!r}")


def _docwise_task(task: Task) -> Summary:
    docs, rejects = read_task_shard(task)
    write_rejects({**task, "dir": task["map_dir"]}, rejects)
    result = _apply_docwise(docs, task["step"], task["params"], task["text_field"])
    summary = write_result(task, result)
    summary["step_stats"] = json.loads(json.dumps(result.stats, default=str))
    return summary


def _merge_stats(step: str, shard_stats: list[dict[str, Any]]) -> dict[str, Any]:
    if step == "decontaminate":
        report: dict[str, dict[str, Any]] = {}
        for s in shard_stats:
            for bench, r in s.get("report", {}).items():
                agg = report.setdefault(bench, {"items": r["items"], "items_too_short": r["items_too_short"],
                                                "found": set(), "documents_removed": 0})
                agg["found"] |= set(s.get("found_items", {}).get(bench, []))
                agg["documents_removed"] += r["documents_removed"]
        return {"report": {b: {"items": r["items"], "items_too_short": r["items_too_short"],
                               "items_found": len(r["found"]), "documents_removed": r["documents_removed"]}
                           for b, r in sorted(report.items())}}
    if step == "fim":
        counts: dict[str, int] = defaultdict(int)
        for s in shard_stats:
            for k, v in s.get("counts", s).items():
                if isinstance(v, int):
                    counts[k] += v
        return {"fim": dict(sorted(counts.items()))}
    return {}


def run_docwise(step: str, input_paths: Sequence[str | os.PathLike] | str | os.PathLike,
                output_path: str | os.PathLike, params: dict[str, Any], *, text_field: str = "text",
                id_field: str = "id", workers: int | None = None, executor: Executor | str | None = None,
                work_dir: str | os.PathLike | None = None, keep_work: bool = False,
                extra_stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """A per-document step over every shard; `params` hold file paths (evaluation sets, the quality
    model), never objects, so that tasks stay small and picklable for worker processes and Ray.
    `extra_stats` are added to the stats (e.g. what the classifier was trained on)."""
    stage = prepare(step, input_paths, output_path, params, text_field=text_field, id_field=id_field,
                    work_dir=work_dir, executor=executor, workers=workers)
    (stage.work / "map").mkdir(parents=True, exist_ok=True)
    applied = stage.run(_docwise_task, "apply", step=step, params=params, map_dir=str(stage.work / "map"))
    step_stats = {**_merge_stats(step, [s.get("step_stats", {}) for s in applied]), **(extra_stats or {})}
    return finish(stage, [], applied, step_stats, keep_work=keep_work)


@functools.lru_cache(maxsize=2)
def _tokenizer(path: str):
    from runners.curation.tokenize import load_tokenizer

    return load_tokenizer(path)


def _sizes(docs: list[Doc], text_field: str, tokenizer: str | None) -> list[int]:
    """Each document's size in the upsampling unit: tokens as the tokenize step writes them (EOS
    included) when a tokenizer is given, else whitespace words."""
    texts = [text_of(d, text_field) for d in docs]
    if tokenizer is None:
        return [len(t.split()) for t in texts]
    from runners.curation.tokenize import count_tokens

    return [n + 1 for n in count_tokens(texts, _tokenizer(tokenizer))]


def _upsample_map(task: Task) -> Summary:
    docs, rejects = read_task_shard(task)
    write_rejects(task, rejects)
    missing = [d["id"] for d in docs if task["score_field"] not in d]
    if missing:
        raise ValueError(f"{task['path']}: document {missing[0]!r} has no '{task['score_field']}' score "
                         "(run the quality step before upsampling)")
    group = task["group_field"]
    sizes = _sizes(docs, task["text_field"], task["tokenizer"])
    rows = [[str(d[task["id_field"]]), float(d[task["score_field"]]), n,
             "" if group is None else str(d.get(group, ""))] for d, n in zip(docs, sizes, strict=True)]
    with atomic_path(Path(task["dir"]) / f"{task['name']}.rows.json") as tmp:
        Path(tmp).write_text(json.dumps(rows))
    return {"docs": len(docs), "rejects": len(rejects)}


def _upsample_apply(task: Task) -> Summary:
    docs, _ = read_task_shard(task)
    decisions = json.loads((Path(task["decisions_dir"]) / f"{task['name']}.json").read_text())
    result = StepResult()
    for doc, (repeat, below, rate, group) in zip(docs, decisions, strict=True):
        if below:
            result.removed.append(Removed(str(doc[task["id_field"]]), "below_quality_threshold", f"group={group}"))
        elif repeat == 0:
            result.removed.append(Removed(str(doc[task["id_field"]]), "rounded_to_zero",
                                          f"group={group} rate={rate:.3g}"))
        else:
            result.kept.append({**doc, "repeat": int(repeat)})
    return write_result(task, result)


def run_upsample(input_paths: Sequence[str | os.PathLike] | str | os.PathLike, output_path: str | os.PathLike, *,
                 drop_below: float = 0.4, max_repeat: float = 7.0, target_tokens: int | None = None,
                 group_field: str | None = "topic", score_field: str = "quality", seed: int = 0,
                 tokenizer: str | None = None,
                 text_field: str = "text", id_field: str = "id", workers: int | None = None,
                 executor: Executor | str | None = None, work_dir: str | os.PathLike | None = None,
                 keep_work: bool = False) -> dict[str, Any]:
    """Quality-aware upsampling across all shards. `target_tokens` (None: keep the available total)
    is split over the groups in proportion to their available tokens; documents are weighted and
    the target counted in tokens of `tokenizer` (a tokenizer folder), or in whitespace words without one."""
    from runners.curation.upsample import plan_group

    params = {"drop_below": drop_below, "max_repeat": max_repeat, "target_tokens": target_tokens,
              "group_field": group_field, "score_field": score_field, "seed": seed, "tokenizer": tokenizer}
    stage = prepare("upsample", input_paths, output_path, params, text_field=text_field, id_field=id_field,
                    work_dir=work_dir, executor=executor, workers=workers)
    mapped = stage.run(_upsample_map, "map", group_field=group_field, score_field=score_field, tokenizer=tokenizer)
    rows = [json.loads(Path(stage.path("map", i, "rows.json")).read_text()) for i in range(len(stage.shards))]
    where: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for s, shard_rows in enumerate(rows):
        for j, row in enumerate(shard_rows):
            where[row[3]].append((s, j))
    available = sum(r[2] for shard_rows in rows for r in shard_rows)
    ratio = 1.0 if target_tokens is None or available == 0 else target_tokens / available
    decisions = [[None] * len(r) for r in rows]
    groups = {}
    for name in sorted(where):
        pos = where[name]
        ids = [rows[s][j][0] for s, j in pos]
        plan = plan_group(ids, np.array([rows[s][j][1] for s, j in pos]), np.array([rows[s][j][2] for s, j in pos]),
                          ratio, drop_below, max_repeat, seed=seed, name=name)
        groups[name] = plan.stats
        for (s, j), rep, below, rate in zip(pos, plan.repeats, plan.below, plan.rates, strict=True):
            decisions[s][j] = [int(rep), bool(below), float(rate), name]
    (stage.work / "reduce").mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(decisions):
        with atomic_path(stage.path("reduce", i, "json")) as tmp:
            Path(tmp).write_text(json.dumps(d))
    applied = stage.run(_upsample_apply, "apply", decisions_dir=str(stage.work / "reduce"))
    realized = sum(rep * rows[s][j][2] for s, r in enumerate(decisions) for j, (rep, *_) in enumerate(r))
    return finish(stage, mapped, applied, {"upsample": {"unit": "tokens" if tokenizer else "words",
                                                        "ratio": ratio, "available_tokens": available,
                                                        "realized_tokens": realized, "groups": groups}},
                  keep_work=keep_work)
