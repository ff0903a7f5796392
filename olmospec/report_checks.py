"""Checks of a report's findings that need every variant: each arm's variant and stage exist, an
eval runs the finding's task after that stage, the metric is one that task has, and an item subset
built from contamination checks has checks to read. Errors point at the finding's own field, with
a did-you-mean where a name is close to one that exists."""

from __future__ import annotations

from olmospec import ast
from olmospec.errors import Diagnostics, did_you_mean
from olmospec.ir import spec as S

BASE_KINDS = ("pretrain", "midtrain", "longctx")  # models without a chat template
METRICS = {"generate": ("exact_match", "gold_logprob"), "multiple_choice": ("acc", "acc_norm", "gold_logprob"),
           "ifeval": ("prompt_level_strict_acc", "inst_level_strict_acc"), "ruler": ("score",)}


def _group(name: str) -> str:
    return name.split("@", 1)[0]


def _finding_fields(items, report: str) -> dict[str, dict[str, ast.Assign]]:
    for sec in items:
        if isinstance(sec, ast.Section) and sec.kind == "report" and sec.name == report:
            return {f.name: {a.key: a for a in f.body or () if isinstance(a, ast.Assign)}
                    for f in sec.body or () if isinstance(f, ast.Section) and f.kind == "finding"}
    return {}


def _task_metrics(base: S.Spec, task: str) -> tuple[str, ...]:
    if task.startswith("ruler@"):
        return METRICS["ruler"]
    t = base.tasks[task]
    return METRICS.get(t.type, ()) if t.path else (t.metric,)


def check_findings(items, base: S.Spec, variants: list, diags: Diagnostics) -> None:
    specs = {}
    for v in variants:
        specs.setdefault(_group(v.name), v.spec)
    for rep in base.reports.values():
        fields = _finding_fields(items, rep.name)
        for f in rep.findings:
            where = {k: a.value.pos for k, a in fields.get(f.name, {}).items()}
            _check_one(f, base, specs, where, diags)


def _check_one(f: S.Finding, base: S.Spec, specs: dict[str, S.Spec], where: dict, diags: Diagnostics) -> None:
    owner = f"finding '{f.name}'"
    known = base.tasks.keys() | {f"ruler@{n}" for ev in base.evals.values() for n in ev.ruler}
    if f.task not in known:
        diags.error(where["task"], f"{owner}: unknown task '{shown(f.task)}'{did_you_mean(f.task, known)}")
        return
    metrics = _task_metrics(base, f.task)
    if f.metric is not None and f.metric not in metrics:
        diags.error(where["metric"], f"{owner}: task '{shown(f.task)}' has no metric '{f.metric}' (it has "
                                     f"{', '.join(metrics)}){did_you_mean(f.metric, set(metrics))}")
        return
    for side in ("measure", "against"):
        a: S.FindingArm = getattr(f, side)
        spec = specs.get(a.variant)
        if spec is None:
            diags.error(where[side], f"{owner}: unknown variant '{a.variant}'{did_you_mean(a.variant, set(specs))}")
            continue
        if a.stage not in spec.stages:
            why = " (its ablation drops it)" if a.stage in base.stages else did_you_mean(a.stage, set(spec.stages))
            diags.error(where[side], f"{owner}: variant '{a.variant}' has no stage '{a.stage}'{why}")
            continue
        evals = [ev for ev in spec.evals.values() if a.stage in ev.after and _runs(ev, f.task)]
        if not evals:
            field = "ruler" if f.task.startswith("ruler@") else "tasks"
            diags.error(where[side], f"{owner}: no eval runs '{shown(f.task)}' after stage '{a.stage}' of variant "
                                     f"'{a.variant}' (add it to an eval's 'after' and '{field}')")
            continue
        if f.metric == "gold_logprob" and not f.task.startswith("ruler@") and base.tasks[f.task].type == "generate" \
                and spec.stages[a.stage].kind not in BASE_KINDS:
            diags.error(where["metric"], f"{owner}: gold_logprob of a generate task is measured on base models only "
                                         f"(stages of kind {', '.join(BASE_KINDS)}); '{a.stage}' is "
                                         f"{spec.stages[a.stage].kind}")
            return
        for key, subset in (("items", f.items), ("relative_to", f.relative_to or "all")):
            if subset != "all" and not any(ev.contamination == "check" for ev in evals):
                diags.error(where[key], f"{owner}: {key} = {subset} comes from contamination checks: set "
                                       f"'contamination = check' in eval '{evals[0].name}'")
                return


def shown(task: str) -> str:
    """A task as the spec writes it: `ruler(1024)` for the column ruler@1024."""
    return f"ruler({task.split('@', 1)[1]})" if task.startswith("ruler@") else task


def _runs(ev: S.Eval, task: str) -> bool:
    if task.startswith("ruler@"):
        return int(task.split("@", 1)[1]) in ev.ruler
    return task in ev.tasks
