"""`finding NAME { ... }` blocks of a `report` with `rows = findings`: a published claim, checked on
this flow as the difference between two (variant, stage) arms on one task.

    report findings {
      rows = findings
      finding verifiable_reward {
        claim = "RLVR with a verifiable reward improves on the model it starts from"
        source = "OLMo 3 report (arXiv:2512.13961), section 6.2"
        task = math  measure = base.rlvr  against = base.dpo  expect = higher
      }
    }

An arm is `VARIANT.STAGE` (`"sft_lr[sft.lr=5e-4].sft"` in quotes for a sweep point). Whether the
variants, stages, tasks and metrics exist is checked once every variant is known
(`olmospec.report_checks`); this module reads and checks each block on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from olmospec import ast, units
from olmospec.body import Body
from olmospec.errors import Diagnostics, SpecError
from olmospec.ir import spec as S

FIELDS = {"claim", "source", "task", "metric", "items", "relative_to", "measure", "against", "expect"}
ITEMS = ("all", "flagged", "answer_seen", "clean")
EXPECT = ("higher", "lower", "none", "no_gain")  # no_gain: not significantly higher (none or lower)


def arm(v: ast.Value) -> S.FindingArm:
    """`base.rlvr` or `"sft_lr[sft.lr=5e-4].sft"` -> FindingArm(variant, stage)."""
    if isinstance(v, ast.Dotted) and len(v.parts) == 2:
        return S.FindingArm(variant=v.parts[0], stage=v.parts[1])
    if isinstance(v, ast.String) and "." in v.value and v.value.rsplit(".", 1)[1].isidentifier():
        variant, stage = v.value.rsplit(".", 1)
        return S.FindingArm(variant=variant, stage=stage)
    raise SpecError(v.pos, "expected VARIANT.STAGE such as base.rlvr (a sweep point in quotes: "
                           f"'\"sft_lr[sft.lr=5e-4].sft\"'), got {units.describe(v)}")


def read_findings(report: str, rows: str | None, b: Body, sec: ast.Section, diags: Diagnostics,
                  column: Callable[[ast.Value], str]) -> tuple[S.Finding, ...]:
    secs = [s for s in b.sections if s.kind == "finding"]
    if rows != "findings":
        for s in secs:
            diags.error(s.pos, f"report '{report}': a finding block needs 'rows = findings' (this report's rows "
                               f"are {rows or 'variants'}; put the findings in a report of their own)")
        return ()
    for key in ("columns", "baseline"):
        if b.has(key):
            diags.error(b.pos_of(key), f"report '{report}' has rows = findings: '{key}' has no meaning here "
                                       "(each finding names its task and its two arms)")
    if not secs:
        diags.error(sec.pos, f"report '{report}' has rows = findings but no 'finding NAME {{ ... }}' block")
    out, seen = [], {}
    for s in secs:
        if s.name is None:
            diags.error(s.pos, "a finding needs a name: 'finding NAME { ... }'")
            continue
        if s.name in seen:
            diags.error(s.atom.pos, f"finding '{s.name}' appears twice in report '{report}' (first at line "
                                    f"{seen[s.name].line})")
            continue
        seen[s.name] = s.pos
        f = _read_one(s, diags, column)
        if f is not None:
            out.append(f)
    return tuple(out)


def _read_one(s: ast.Section, diags: Diagnostics, column: Callable[[ast.Value], str]) -> S.Finding | None:
    fb = Body(f"finding '{s.name}'", s.body, diags, FIELDS)
    kw = {"claim": fb.get("claim", units.string, None, required_pos=s.pos),
          "source": fb.get("source", units.string, None),
          "task": fb.get("task", column, None, required_pos=s.pos),
          "metric": fb.get("metric", units.name, None),
          "items": fb.get("items", units.word(*ITEMS), None),
          "relative_to": fb.get("relative_to", units.word(*ITEMS), None),
          "measure": fb.get("measure", arm, None, required_pos=s.pos),
          "against": fb.get("against", arm, None, required_pos=s.pos),
          "expect": fb.get("expect", units.word(*EXPECT), None, required_pos=s.pos)}
    if any(kw[k] is None for k in ("claim", "task", "measure", "against", "expect")):
        return None  # reported
    if kw["relative_to"] is not None and kw["relative_to"] == (kw["items"] or "all"):
        diags.error(fb.pos_of("relative_to"), f"finding '{s.name}': relative_to = {kw['relative_to']} names the "
                                              "compared items themselves (the difference in differences would be 0)")
        return None
    if kw["measure"] == kw["against"]:
        diags.error(fb.pos_of("against"), f"finding '{s.name}' compares {kw['measure'].variant}.{kw['measure'].stage} "
                                          "with itself")
        return None
    return S.Finding(name=s.name, **{k: v for k, v in kw.items() if v is not None})
