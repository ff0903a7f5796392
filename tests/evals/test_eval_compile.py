"""The eval, contamination and report blocks compiled: every setting reaches a stage config (or the
runtime file, outside the identity), checks are shared by the variants that train on the same data,
and bad values are errors at their position."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from olmospec.api import load_spec
from olmospec.compile import render
from olmospec.errors import SpecErrors

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "specs/tiny.ospec"


def _tiny(tmp_path: Path, edit=lambda s: s) -> Path:
    p = ROOT / "specs" / f".test-{tmp_path.name}.ospec"  # next to tiny.ospec, so its data paths resolve
    p.write_text(edit(TINY.read_text()))
    return p


def _graph(spec: Path):
    try:
        return render(load_spec(str(spec)), ROOT, "pipelines/x").graph
    finally:
        spec.unlink()


CHAT = "eval chat after [sft, dpo, rlvr] { tasks = [math, ifeval]  contamination = check  batch = 32 }"


def test_eval_settings_reach_the_stage_config_and_runtime_stays_out_of_the_identity(tmp_path):
    g = _graph(_tiny(tmp_path))
    ruler = next(n for n in g.nodes.values() if n.kind == "eval" and n.config["eval"] == "ruler")
    assert ruler.config["ruler"]["lengths"] == [512, 1024]
    assert ruler.config["ruler"]["samples"] == 4 and "cwe" not in ruler.config["ruler"]["tasks"]
    assert ruler.config["ruler"]["haystack"]["path"] == "specs/data/tiny/ruler/haystack.jsonl"
    assert ruler.config["batch"] == 32 and ruler.config["model"].endswith("/hf")

    def edit(s: str) -> str:
        s = s.replace("metric = exact_match }", "metric = exact_match  temperature = 0.7  top_p = 90%  max_response = 48 tokens }", 1)
        s = s.replace(CHAT,
                      "eval chat after [sft, dpo, rlvr] {\n  tasks = [math, ifeval]  contamination = check  batch = 4\n"
                      "  runtime { device = cpu  threads = 1 }\n}")
        return s

    g2 = _graph(_tiny(tmp_path, edit))
    chat = [n for n in g2.nodes.values() if n.kind == "eval" and n.config["eval"] == "chat"]
    math = next(t for t in chat[0].config["tasks"] if t["name"] == "math")
    assert (math["temperature"], math["top_p"], math["max_response"]) == (0.7, 0.9, 48)
    assert {n.config["batch"] for n in chat} == {4}
    assert {json.dumps(n.runtime, sort_keys=True) for n in chat} == {'{"backend": "auto", "device": "cpu", "threads": 1}'}
    # the runtime block alone changes no id: only batch and the task settings did
    only_runtime = _graph(_tiny(tmp_path, lambda s: s.replace(
        CHAT,
        "eval chat after [sft, dpo, rlvr] {\n  tasks = [math, ifeval]  contamination = check  batch = 32\n"
        "  runtime { device = cpu }\n}")))
    assert set(only_runtime.nodes) == set(g.nodes)


def test_contamination_checks_follow_the_data_and_are_shared(tmp_path):
    g = _graph(_tiny(tmp_path))
    checks = {n.id: n for n in g.nodes.values() if n.kind == "contamination"}
    base_sft_eval = next(n for n in g.nodes.values() if n.kind == "eval" and n.config["eval"] == "chat"
                         and n.config["stage"] == "sft" and "base@seed1" in n.variants)
    ups = [checks[u] for u in base_sft_eval.upstream if u in checks]
    assert [c.config["stage"] for c in ups] == ["pretrain", "midtrain", "longctx", "sft"]
    assert base_sft_eval.config["contamination_reports"] == [f"{c.out_dir}/contamination.json" for c in ups]
    pre = next(c for c in ups if c.config["stage"] == "pretrain")
    assert [i["name"] for i in pre.config["inputs"]] == ["web", "pdfs", "code", "math_pretrain"]
    assert {t["name"] for t in pre.config["tasks"]} == {"math", "mc", "ifeval"}
    # the rl_lr sweep trains on the same pretraining data: one check; no_decontamination: its own
    assert {"base@seed1", "rl_lr[rlvr.lr=5e-6]"} <= set(pre.variants)
    pretrain_checks = [c for c in checks.values() if c.config["stage"] == "pretrain"]
    dirty = next(c for c in pretrain_checks if "no_decontamination" in c.variants)
    assert dirty.id != pre.id
    web_input = next(i["input"] for i in dirty.config["inputs"] if i["name"] == "web")
    assert "decontaminate" not in json.dumps(web_input)


def test_the_report_is_the_last_stage_and_reads_every_variant(tmp_path):
    g = _graph(_tiny(tmp_path))
    order = g.ordered()
    assert order[-1].kind == "report"
    rep = order[-1]
    assert {r["variant"] for r in rep.config["rows"]} == set(g.variants)
    evals = {n.id for n in g.nodes.values() if n.kind == "eval"}
    assert evals <= set(rep.upstream)
    base = next(r for r in rep.config["rows"] if r["variant"] == "base@seed1")
    assert [e["stage"] for e in base["evals"]][-1] == "rlvr"
    assert next(e for e in base["evals"] if e["eval"] == "ruler")["columns"] == ["ruler@512", "ruler@1024"]


def test_bad_eval_settings_are_errors_at_their_position(tmp_path):
    spec = _tiny(tmp_path, lambda s: s.replace("vt, fwe]", "vt, fwee]").replace("haystack = ruler_text",
                                                                                  "haystack = ruler_txt"))
    try:
        load_spec(str(spec))
        raise AssertionError("expected errors")
    except SpecErrors as e:
        text = "\n".join(str(x) for x in e.errors)
    finally:
        spec.unlink()
    assert "got 'fwee'; did you mean 'fwe'?" in text
    assert "unknown source or curation 'ruler_txt'; did you mean 'ruler_text'?" in text


def test_report_command_without_a_report_block_is_a_clear_error(tmp_path):
    spec = tmp_path / "s.ospec"
    spec.write_text("olmospec 1\nsource a { path = \"a.jsonl\" }\n")
    r = subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(tmp_path), "report", str(spec)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1 and "has no report block" in r.stderr and "Traceback" not in r.stderr
