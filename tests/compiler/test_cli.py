"""The CLI end to end: diff, graph, plan, fmt --check, schema, run --dry."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "olmospec.cli", *args], cwd=cwd, capture_output=True, text=True, check=False)


def _recipe_copy(tmp_path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib/olmo3_data.ospec").write_text((ROOT / "specs/lib/olmo3_data.ospec").read_text())
    a = tmp_path / "a.ospec"
    a.write_text((ROOT / "specs/olmo3_7b.ospec").read_text())
    return a


def test_diff_reports_change_and_reruns(tmp_path):
    a = _recipe_copy(tmp_path)
    b = tmp_path / "b.ospec"
    b.write_text(a.read_text().replace("beta = 5  lr = 8e-8", "beta = 5  lr = 9e-8"))
    r = cli("diff", str(a), str(b), "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    base = d["entries"][0]
    assert base["name"] == "base" and base["changes"] == ["~ stage dpo: optimizer.lr: 8e-08 -> 9e-08"]
    rerun = [x for e in d["entries"] for x in e["stages"]]
    assert {x["id"].split("-")[0] for x in rerun} == {"dpo", "rlvr", "eval", "report"}
    assert not any(x["id"].startswith(("pretrain", "sft", "web")) for x in rerun)
    dpo = [x for x in rerun if x["id"].startswith("dpo-")]
    assert dpo and all(x["why"] == "config: optimizer.lr: 8e-08 -> 9e-08" for x in dpo)


def test_newcomers_ablation_its_stages_and_marginal_cost(tmp_path):
    """Raising a Dolmino share as an ablation of the 7B recipe: `diff` names the variant, the 20
    stages it adds (19 of its own, DPO's pair generation and reference stages among them, and the
    report) and its marginal GPU-hours; `plan --variant` prints the same figure."""
    a = _recipe_copy(tmp_path)
    b = tmp_path / "b.ospec"
    b.write_text(a.read_text() + "ablation more_fim { dolmino.stack_edu_fim = 20%  dolmino.cc_hq = 12.5% }\n")
    r = cli("diff", str(a), str(b))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "base experiment: unchanged" in out and "no semantic change" not in out
    assert "+ ablation more_fim: dolmino.stack_edu_fim = 20%, dolmino.cc_hq = 12.5%" in out
    assert "adds 3 variant(s): more_fim@seed1, more_fim@seed2, more_fim@seed3" in out
    m = re.search(r"runs 19 stages, ([\d,]+) GPU-h, \$([\d,]+) that A does not have", out)
    assert m, out
    assert "mix-dolmino-" in out and "components[stack_edu_fim].share: 10% -> 20%" in out
    assert re.search(r"B runs 20 stages, " + m.group(1) + " GPU-h", out), out
    p = cli("plan", str(b), "--variant", "more_fim")
    assert p.returncode == 0, p.stderr
    assert f"beyond the base (the stages it does not share with it): 19 stages, {m.group(1)} GPU-h" in p.stdout
    d = json.loads(cli("diff", str(a), str(b), "--json").stdout)
    grp = next(e for e in d["entries"] if e["name"] == "more_fim")
    j = json.loads(cli("plan", str(b), "--variant", "more_fim", "--json").stdout)
    assert grp["cost"]["gpu_hours"] == pytest.approx(j["groups"][0]["beyond_base"]["gpu_hours"])
    assert grp["cost"]["gpu_hours"] > 10_000


def test_diff_covers_ablations_sweeps_seeds_and_runtime(tmp_path):
    a = _recipe_copy(tmp_path)
    text = a.read_text()
    b = tmp_path / "b.ospec"
    text_b = (text.replace("ablation no_dpo { drop dpo }", "")
              .replace("sweep sft_lr { sft.lr = [2.5e-5, 5e-5, 1e-4] }", "sweep sft_lr { sft.lr = [5e-5, 1e-4] }")
              .replace("seeds = [1, 2, 3]", "seeds = [1, 2]")
              .replace("throughput = 7700 tok/s/gpu", "throughput = 8000 tok/s/gpu")
              .replace("tokens = 50B  seq = 65536", "tokens = 60B  seq = 65536"))
    text_b += "mix dolma3 { web 75.1%  pdfs 14.6% }  # refines the imported mix\n"
    b.write_text(text_b)
    r = cli("diff", str(a), str(b))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "~ mix dolma3: entries[web].share: 76.1% -> 75.1%" in out
    assert "~ stage longctx: tokens: 50B -> 60B" in out
    assert "~ stage pretrain: runtime.throughput: 7700 tok/s/gpu -> 8000 tok/s/gpu  (runtime only, reruns nothing)" \
        in out
    assert "~ seeds: [1, 2, 3] -> [1, 2]" in out
    assert "- ablation no_dpo" in out and "removes 3 variant(s): no_dpo@seed1, no_dpo@seed2, no_dpo@seed3" in out
    assert "~ sweep sft_lr: sft.lr = [2.5e-5, 5e-5, 1e-4] -> sft.lr = [5e-5, 1e-4]" in out
    assert "removes 1 variant(s): spurious_reward@seed3" in out
    assert "mixe" not in out and "None" not in out


def test_variant_names_a_user_types(tmp_path):
    g = cli("graph", "specs/olmo3_7b.ospec", "--variant", "base")
    assert g.returncode == 0, g.stderr
    one = json.loads(cli("plan", "specs/olmo3_7b.ospec", "--variant", "no_dpo@seed2", "--json").stdout)
    assert one["groups"][0]["variants"] == ["no_dpo@seed2"]
    every = json.loads(cli("plan", "specs/olmo3_7b.ospec", "--variant", "no_dpo", "--json").stdout)
    assert every["groups"][0]["variants"] == ["no_dpo@seed1", "no_dpo@seed2", "no_dpo@seed3"]
    sweep = json.loads(cli("plan", "specs/olmo3_7b.ospec", "--variant", "sft_lr", "--json").stdout)
    assert len(sweep["groups"][0]["variants"]) == 9
    point = json.loads(cli("plan", "specs/olmo3_7b.ospec", "--variant", "sft_lr[sft.lr=1e-4]@3", "--json").stdout)
    assert point["groups"][0]["variants"] == ["sft_lr[sft.lr=1e-4]@seed3"]
    bad = cli("plan", "specs/olmo3_7b.ospec", "--variant", "no_dop")
    assert bad.returncode == 1 and "unknown variant 'no_dop'; did you mean 'no_dpo'?" in bad.stderr
    assert "Traceback" not in bad.stderr
    kinds = {(s["kind"], s["runner"]) for s in every["stages"]}
    assert {("pretrain", "train"), ("midtrain", "train"), ("longctx", "train"), ("sft", "train"),
            ("rlvr", "rlvr"), ("minhash", "curate"), ("mix", "mix")} <= kinds


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


def test_diff_and_plan_of_seeds_for_chosen_variants(tmp_path):
    """`seeds ... for [..]`: seeding one more variant runs only its other seeds; plan counts them."""
    a, b = tmp_path / "a.ospec", tmp_path / "b.ospec"
    text = (ROOT / "specs/olmo3_7b.ospec").read_text().replace('import "lib/', f'import "{ROOT}/specs/lib/')
    a.write_text(text.replace("seeds = [1, 2, 3]", "seeds = [1, 2, 3] for [base]"))
    b.write_text(text.replace("seeds = [1, 2, 3]", "seeds = [1, 2, 3] for [base, spurious_reward]"))
    out = cli("diff", str(a), str(b)).stdout
    assert "~ seeds: [1, 2, 3] for [base] -> [1, 2, 3] for [base, spurious_reward]" in out, out
    assert "removes 1 variant(s): spurious_reward\n" in out
    d = json.loads(cli("diff", str(a), str(b), "--json").stdout)
    e = next(e for e in d["entries"] if e["name"] == "spurious_reward")
    assert e["added_variants"] == [f"spurious_reward@seed{i}" for i in (1, 2, 3)]
    runs = {s["id"].rsplit("-", 1)[0]: s["why"] for s in e["stages"]}
    assert set(runs) <= {"rlvr", "eval-rl_suite-rlvr", "eval-chat-rlvr", "eval-safety-rlvr"} and "rlvr" in runs
    assert sum(s["id"].startswith("rlvr-") for s in e["stages"]) == 2  # seeds 2 and 3; seed 1 is the old run
    assert all("seed: 1 -> " in s["why"] for s in e["stages"])
    plan = json.loads(cli("plan", str(b), "--json").stdout)
    counts = {g["name"]: len(g["variants"]) for g in plan["groups"]}
    assert counts["base"] == counts["spurious_reward"] == 3 and counts["no_dpo"] == 1
    one = json.loads(cli("plan", str(b), "--variant", "no_dpo", "--json").stdout)
    assert one["groups"][0]["variants"] == ["no_dpo"]
