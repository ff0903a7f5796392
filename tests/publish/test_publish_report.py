"""The published table reproduces from a clone byte for byte: a spec with training, evaluation and a
report runs through `dvc repro`; `olmospec publish`; the user commits what it lists; a clone in a new
directory runs `dvc pull` and `olmospec report`, and gets the same Markdown, LaTeX and CSV bytes as
the original, with no stage rerun (no stale mark, `dvc repro` runs nothing). `olmospec verify` of the
eval stage in the clone reruns lm-eval and checks its scores statistically."""

import re
import shutil

import pytest
from dvc_repo import ROOT, make_repo, repro
from published import clone, commit, dvc, olmospec, outputs

SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 512  data = [web_raw] }
source web_raw { path = "data/web/*.jsonl.zst" }
task mc { path = "data/evals/mc.jsonl"  type = multiple_choice  metric = acc  limit = 12 }
mix m { web_raw 100% { max_repeat = 10x } }
model tiny {
  d_model = 32  layers = 2  heads = 2  kv_heads = 2  mlp = 64  tokenizer = tok
  attention = repeat(window(16), full)
}
stage pretrain {
  model = tiny  data = m  steps = 3  seq = 64  batch = 4 seqs  lr = 1e-3
  runtime { device = cpu  threads = 1 }
}
eval suite after pretrain { tasks = [mc]  runtime { device = cpu  threads = 1 } }
report main { rows = variants  columns = [mc]  baseline = base  format = [markdown, latex, csv] }
"""
FORMATS = ("main.md", "main.tex", "main.csv")


def _report(repo) -> dict[str, bytes]:
    out = repo / "published-report"
    shutil.rmtree(out, ignore_errors=True)
    for fmt in ("md", "latex", "csv"):
        olmospec(repo, "--root", ".", "report", "flow.ospec", "--format", fmt, "--out", str(out))
    return {name: (out / name).read_bytes() for name in FORMATS}


@pytest.mark.slow
def test_report_from_a_clone_is_byte_identical_and_nothing_recomputes(tmp_path):
    data = ROOT / "specs/data/tiny"
    files = {f"data/{sub}/{p.relative_to(data / sub)}": p.read_bytes() for sub in ("web", "evals")
             for p in (data / sub).rglob("*") if p.is_file()}
    a = make_repo(tmp_path / "a", SPEC, files)
    (a / ".gitignore").write_text("__pycache__/\nruns/\npublished-report/\n")
    repro(a)
    r = olmospec(a, "publish")
    assert "warning" not in r.stdout, r.stdout
    commit(a)
    want = _report(a)
    rows = [line for line in want["main.md"].decode().splitlines() if line.startswith("| base")]
    assert len(rows) == 1 and "‡" not in rows[0] and "n/a" not in rows[0], want["main.md"].decode()  # fresh, scored
    # the footer names the processor: CPU weights are bit-exact on the same kind of processor only
    assert re.search(r"^- hardware: \S+ \(.+, \d+ cores, \w+\); hf on cpu", want["main.md"].decode(), re.MULTILINE)

    b = clone(a, tmp_path / "new" / "b")
    dvc(b, "pull")
    assert outputs(b) == outputs(a)
    got = _report(b)
    assert got == want
    assert "Data and pipelines are up to date." in dvc(b, "status").stdout
    assert "Running stage" not in repro(b).stdout

    r = olmospec(b, "verify", "eval-suite-")
    assert r.stdout.rstrip().endswith("0 mismatch(es)"), r.stdout + r.stderr
    assert "statistical" in r.stdout, r.stdout
