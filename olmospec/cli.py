"""The `olmospec` command: check, fmt, schema, plan, graph, diff, compile, run, report, publish, verify, data.

Every user error is printed as `file:line:col: error: message` with the source line and a caret,
and exits with status 1; nothing here prints a traceback for bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from olmospec.errors import SpecError, SpecErrors
from olmospec.errors import report as _report


def _load(path: str, sources: dict[str, str]):
    from olmospec.api import load_spec

    return load_spec(path, sources)


def _root(args) -> Path:
    from olmospec.project import find_root

    return Path(args.root) if args.root else find_root()


def cmd_check(args) -> int:
    from olmospec.errors import print_warnings
    from olmospec.graph_stages import build_graph
    from olmospec.manifests import check_source_files, check_with_manifests

    rc = 0
    root = _root(args)
    for path in args.spec:
        sources: dict[str, str] = {}
        try:
            exp = _load(path, sources)
            g = build_graph(exp, root)
            check_with_manifests(exp, g, root).raise_if_any()
        except (SpecError, SpecErrors) as e:
            rc = _report(e, sources)
            continue
        warnings = [*exp.warnings, *check_source_files(exp).warnings]
        if args.strict and warnings:
            rc = _report(SpecErrors([SpecError(w.pos, w.message, w.hint, w.notes) for w in warnings]), sources)
            continue
        print_warnings(warnings, sources)
        note = f", {len(warnings)} warning(s)" if warnings else ""
        print(f"{path}: ok ({len(exp.variants)} variants, {len(g.nodes)} stages{note})")
    return rc


def cmd_fmt(args) -> int:
    from olmospec.fmt import format_spec
    from olmospec.parser import parse_file

    rc = 0
    for path in args.spec:
        try:
            f = parse_file(path)
        except SpecError as e:
            rc = _report(e, {})
            continue
        new = format_spec(f)
        if new == f.source:
            continue
        if args.check:
            print(f"{path}: would reformat", file=sys.stderr)
            rc = 1
        else:
            Path(path).write_text(new, encoding="utf-8")
            print(f"{path}: reformatted")
    return rc


def cmd_schema(args) -> int:
    from olmospec.ir.spec import Spec

    print(json.dumps(Spec.model_json_schema(), indent=2, sort_keys=True))
    return 0


def _graph(path: str, root: Path):
    from olmospec.graph_stages import build_graph

    sources: dict[str, str] = {}
    try:
        exp = _load(path, sources)
        return exp, build_graph(exp, root), sources
    except (SpecError, SpecErrors) as e:
        _report(e, sources)
        raise SystemExit(1) from None


def _variant_ok(g, variant: str | None) -> bool:
    from olmospec.variant_names import check_variant

    if variant:
        try:
            check_variant(list(g.variants), variant)
        except SpecError as e:
            print(f"error: {e.message}", file=sys.stderr)
            return False
    return True


def cmd_plan(args) -> int:
    from olmospec.plan import plan_json
    from olmospec.plan_text import plan_table, variant_summary

    exp, g, _ = _graph(args.spec, _root(args))
    if not _variant_ok(g, args.variant):
        return 1
    # --price overrides; else each stage's own price, else the spec's
    plan = plan_json(g, args.price, args.variant, exp.base.runtime.gpu)
    if args.json:
        print(json.dumps(plan, indent=2))
    elif args.variant:
        text = plan_table(plan).split("\n\n", 1)[0]
        print(text + "\n\n" + variant_summary(plan["groups"][0]))
    else:
        print(plan_table(plan))
    return 0


def cmd_graph(args) -> int:
    from olmospec.graphviz import dot, mermaid

    _, g, _ = _graph(args.spec, _root(args))
    if not _variant_ok(g, args.variant):
        return 1
    print((dot if args.format == "dot" else mermaid)(g, args.variant), end="")
    return 0


def cmd_diff(args) -> int:
    from olmospec.diff import diff_text, experiment_diff

    root = _root(args)
    ea, ga, _ = _graph(args.a, root)
    eb, gb, _ = _graph(args.b, root)
    d = experiment_diff(ea, ga, eb, gb, args.price)
    print(json.dumps(d, indent=2) if args.json else diff_text(d))
    return 0


def cmd_compile(args) -> int:
    from olmospec.compile import render, stale, write
    from olmospec.errors import print_warnings

    sources: dict[str, str] = {}
    root = _root(args)
    try:
        exp = _load(args.spec, sources)
        compiled = render(exp, root, args.out)
    except (SpecError, SpecErrors) as e:
        return _report(e, sources)
    print_warnings(list(exp.warnings), sources)
    if args.check:
        bad = stale(compiled, root)
        if bad:
            print(f"{args.spec}: the compiled pipeline is stale ({len(bad)} file(s) differ, e.g. {bad[0]}); "
                  f"run `olmospec compile {args.spec}`", file=sys.stderr)
            return 1
        print(f"{args.spec}: compiled pipeline is current")
        return 0
    written = write(compiled, root)
    shared = f"; {len(compiled.elsewhere)} defined by other pipelines, reused" if compiled.elsewhere else ""
    code = f" (and {len(compiled.code_stages)} that hash runner code)" if compiled.code_stages else ""
    print(f"{compiled.dvc_file}: {len(compiled.graph.nodes)} stages{code}{shared}, "
          f"{len(compiled.graph.variants)} variants ({len(written)} file(s) written)")
    return 0


def cmd_run(args) -> int:
    from olmospec.run import run_pipeline

    return run_pipeline(args)


def _store_errors(fn, *a, **kw) -> int:
    from olmospec.dvc_store import StoreError

    try:
        return fn(*a, **kw)
    except StoreError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


def cmd_publish(args) -> int:
    from olmospec.publish import publish

    return _store_errors(publish, _root(args), args.remote, args.to)


def cmd_verify(args) -> int:
    from olmospec.compare import Tolerance
    from olmospec.verify import verify

    return _store_errors(verify, _root(args), args.stage, Tolerance(args.atol, args.rtol, args.k), args.keep)


def cmd_report(args) -> int:
    from olmospec.report_cli import report_command

    return report_command(args)


def cmd_data(args) -> int:
    """Delegates to the runners package (olmospec never imports runners): the process becomes
    `python -m runners.data`, so no second interpreter waits on the first."""
    os.execv(sys.executable, [sys.executable, "-m", "runners.data", *args.rest])
    return 0  # pragma: no cover - execv does not return


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="olmospec", description="Reproducible LM training recipes: spec -> DVC.")
    ap.add_argument("--root", help="project root (where dvc.yaml and runs/ live); default: the folder above the "
                    "current one that holds .dvc/, else the git top level, else the current folder")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("check", help="parse and check specs (all variants); exit 1 on any error")
    p.add_argument("spec", nargs="+")
    p.add_argument("--strict", action="store_true", help="warnings are errors (e.g. a source that matches no file)")
    p.set_defaults(fn=cmd_check)

    p = sub.add_parser("fmt", help="rewrite specs in canonical layout, keeping comments")
    p.add_argument("spec", nargs="+")
    p.add_argument("--check", action="store_true", help="only report files that would change (exit 1)")
    p.set_defaults(fn=cmd_fmt)

    p = sub.add_parser("schema", help="print the JSON schema of the resolved spec (the IR)")
    p.set_defaults(fn=cmd_schema)

    p = sub.add_parser("plan", help="parameters, tokens, FLOPs, GPU-hours and cost per stage")
    p.add_argument("spec")
    p.add_argument("--json", action="store_true")
    p.add_argument("--price", type=float, help="USD per GPU-hour (overrides the spec's runtime price)")
    p.add_argument("--variant", help="only this variant's stages, and its cost beyond the base: base, an ablation "
                   "or sweep name (all its seeds), a sweep point, or NAME@seedN")
    p.set_defaults(fn=cmd_plan)

    p = sub.add_parser("graph", help="the stage DAG as Mermaid (default) or Graphviz dot")
    p.add_argument("spec")
    p.add_argument("--format", choices=["mermaid", "dot"], default="mermaid")
    p.add_argument("--variant", help="only this variant's stages (base, an ablation or sweep name, NAME@seedN)")
    p.set_defaults(fn=cmd_graph)

    p = sub.add_parser("diff", help="what changed from spec A to B (base, ablations, sweeps, seeds), which "
                       "stages B runs that A does not, and their GPU-hours")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--json", action="store_true")
    p.add_argument("--price", type=float, help="USD per GPU-hour (overrides the spec's runtime price)")
    p.set_defaults(fn=cmd_diff)

    p = sub.add_parser("compile", help="write dvc.yaml and stage configs for a spec")
    p.add_argument("spec")
    p.add_argument("--out", help="output folder, relative to the root (default: . for the project's default spec, "
                   "else pipelines/<spec name>)")
    p.add_argument("--check", action="store_true", help="exit 1 if the committed pipeline is stale")
    p.set_defaults(fn=cmd_compile)

    p = sub.add_parser("run", help="compile, then `dvc repro` the implemented stages (or the ones named)")
    p.add_argument("spec")
    p.add_argument("--out")
    p.add_argument("--stage", action="append", default=[], help="stage label or id (repeatable)")
    p.add_argument("--variant", help="only this variant's stages (base, an ablation or sweep name, NAME@seedN)")
    p.add_argument("--dry", action="store_true", help="show what would run; writes nothing, runs no `dvc init`")
    p.add_argument("-q", "--quiet", action="store_true", help="one line per stage and a summary, no runner output "
                   "(a failing stage's output is shown in full)")
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser("publish", help="push every locked stage output to a DVC remote (a local folder by default) "
                       "and say what git must carry for a clone to `dvc pull` them")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--remote", help="a DVC remote already configured (`dvc remote add`)")
    g.add_argument("--to", help="a folder or URL (s3://bucket/prefix, ...): becomes the default remote 'published'")
    p.set_defaults(fn=cmd_publish)

    p = sub.add_parser("verify", help="rerun one locked stage from its locked inputs in a scratch folder and compare "
                       "its outputs with dvc.lock: exact, numeric (atol/rtol) or statistical (k standard errors)")
    p.add_argument("stage", help="stage id (or a prefix only one locked stage has)")
    p.add_argument("--atol", type=float, default=1e-5, help="numeric files: absolute tolerance (default 1e-5)")
    p.add_argument("--rtol", type=float, default=1e-4, help="numeric files: relative tolerance (default 1e-4)")
    p.add_argument("--k", type=float, default=3.0, help="scores: allowed difference in standard errors (default 3)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder of the rerun")
    p.set_defaults(fn=cmd_verify)

    p = sub.add_parser("report", help="the spec's result tables (markdown, latex, html, csv) from the runs so far")
    p.add_argument("spec")
    p.add_argument("--format", action="append", choices=["md", "markdown", "latex", "tex", "html", "csv"],
                   help="output format (repeatable; default: the report block's formats)")
    p.add_argument("--out", help="output folder (default: reports/)")
    p.add_argument("--name", help="only this report block")
    p.set_defaults(fn=cmd_report)

    p = sub.add_parser("data", help="run one curation step on your own file: data STEP INPUT OUTPUT [--opt v]",
                       add_help=False)
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(fn=cmd_data)
    return ap


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["data"]:  # everything after `data`, --help included, belongs to the runner
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "runners.data", *argv[1:]])
    args = build_parser().parse_args(argv)
    try:
        rc = args.fn(args)
    except KeyboardInterrupt:
        rc = 130
    except BrokenPipeError:
        rc = 0
    except (SpecError, SpecErrors) as e:
        rc = _report(e, {})
    sys.stdout.flush()
    raise SystemExit(rc)


if __name__ == "__main__":
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")
    main()
