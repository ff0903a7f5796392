"""The CLI end to end: diff, graph, plan, fmt --check, schema, run --dry."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "olmospec.cli", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_diff_reports_change_and_reruns(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "olmo3_data.ospec").write_text((ROOT / "specs/lib/olmo3_data.ospec").read_text())
    a = tmp_path / "a.ospec"
    a.write_text((ROOT / "specs/olmo3_7b.ospec").read_text())
    b = tmp_path / "b.ospec"
    b.write_text(a.read_text().replace("beta = 5  lr = 8e-8", "beta = 5  lr = 9e-8"))
    r = cli("diff", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["changes"] == ["~ stage dpo: optimizer.lr: 8e-08 -> 9e-08"]
    kinds = {x["id"].split("-")[0] for x in d["rerun"]}
    assert kinds == {"dpo", "rlvr", "eval", "report"}
    assert not any(x["id"].startswith(("pretrain", "sft", "web")) for x in d["rerun"])


def test_graph_formats():
    r = cli("graph", "specs/tiny.ospec", "--variant", "no_dpo")
    assert r.returncode == 0 and r.stdout.startswith("flowchart TD") and "dpo-" not in r.stdout
    r = cli("graph", "specs/tiny.ospec", "--format", "dot")
    assert r.returncode == 0 and r.stdout.startswith("digraph") and "->" in r.stdout
    assert cli("graph", "specs/tiny.ospec", "--variant", "no_dop").returncode == 1


def test_fmt_check_and_schema(tmp_path):
    p = tmp_path / "x.ospec"
    p.write_text("source web{path=\"a.jsonl\"}\n")
    assert cli("fmt", "--check", str(p)).returncode == 1
    assert cli("fmt", str(p)).returncode == 0
    assert p.read_text() == 'source web { path = "a.jsonl" }\n'
    schema = json.loads(cli("schema").stdout)
    assert "Stage" in schema["$defs"] and schema["title"] == "Spec"


def test_plan_table_and_price():
    r = cli("plan", "specs/olmo3_7b.ospec", "--price", "3")
    assert r.returncode == 0 and "total" in r.stdout
    j = json.loads(cli("plan", "specs/olmo3_7b.ospec", "--json", "--price", "3").stdout)
    pre = next(s for s in j["stages"] if s["name"] == "pretrain")
    assert abs(pre["cost_usd"] - pre["gpu_hours"] * 3) < 1e-6
