"""`olmospec run` shows progress per stage through the real CLI and `dvc repro`, in a fresh repository:
"stage i of n" with the stage's name and kind, elapsed time and the estimate for the rest; the
runners' output indented under its stage; none of DVC's empty-file warnings or lock-file notices;
a summary (stages run, up to date, time per kind). A rerun skips every stage; a failing stage's
error is shown in full, also with `--quiet`. The estimate logic and the output filter are also
checked line by line against a transcript of what `dvc repro` prints (code stages, which hash a
runner's code, run and skip silently and are not counted)."""

import io
import json
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from dvc_repo import env, make_repo, word_docs

from olmospec import progress
from olmospec.estimate import Estimator, Past, read_receipts
from olmospec.progress import Splitter, View

SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 300  data = [a] }
source a { path = "data/a.jsonl" }
curate a_clean from a { dedup exact }
model m { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok  attention = repeat(window(16), full) }
stage pretrain {
  model = m  data = a_clean  tokens = 600 tokens  seq = 32  batch = 4 seqs  lr = 1e-3
  runtime { device = cpu  threads = 1 }
}
"""
STAGE_LINE = re.compile(r"^\[(\d+)/5\] (\S+) \((\w+)\)  [\d.]+(?:s|m\d\ds) elapsed")


def _run(repo, *extra):
    return subprocess.run([sys.executable, "-m", "olmospec.cli", "--root", str(repo), "run", "flow.ospec",
                           "--out", ".", *extra], cwd=repo, capture_output=True, text=True, env=env(), check=False)


@pytest.mark.slow
def test_progress_per_stage_rerun_skips_and_a_failure_shows_its_error(tmp_path):
    repo = make_repo(tmp_path / "r", SPEC, {"data/a.jsonl": word_docs(80, 20)})
    first = _run(repo)
    assert first.returncode == 0, first.stdout + first.stderr
    out = first.stdout
    lines = out.splitlines()
    assert lines[0].startswith("dvc repro: 5 stage(s), 5 expected to run")
    stages = [STAGE_LINE.match(x).groups() for x in lines if STAGE_LINE.match(x)]
    assert [int(i) for i, *_ in stages] == [1, 2, 3, 4, 5]
    assert ("pretrain", "train") == stages[-1][1:] and ("a_clean-exact", "curate") in [s[1:] for s in stages]
    assert out.count("    done in ") == 5
    # the runners' own output, indented under their stage; a progress bar once, in its final state
    assert re.search(r"^    tokenizer: vocabulary \d+ from 80 documents$", out, re.MULTILINE)
    assert re.search(r"^    pretrain-\w+: 100%.*4/4", out, re.MULTILINE)
    assert "\r" not in out and "\x1b" not in out  # not a terminal: no redrawing
    # DVC's notices are gone (the curation wrote an empty rejects.jsonl): it says how many it hid
    both = out + first.stderr
    assert "is empty." not in both and "lock file" not in both and "git add" not in both and "> sh " not in both
    assert re.search(r"\(\d+ DVC warning\(s\) that an output is empty hidden\)", out)
    assert re.search(r"^finished: 5 stage\(s\) run, 0 up to date; .* in all$", out, re.MULTILINE)
    assert re.search(r"^  train +1  ", out, re.MULTILINE) and re.search(r"^  curate +1  ", out, re.MULTILINE)

    again = _run(repo)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.splitlines()[0] == "dvc repro: 5 stage(s), 0 expected to run"
    assert "[1-5/5] 5 stage(s) up to date" in again.stdout
    assert re.search(r"^finished: 0 stage\(s\) run, 5 up to date; ", again.stdout, re.MULTILINE)
    assert "done in" not in again.stdout

    # every record unreadable: the curation keeps nothing and pretraining fails on empty data
    (repo / "data/a.jsonl").write_text("not json\n")
    fail = _run(repo, "--quiet")
    assert fail.returncode == 1
    head = fail.stdout.splitlines()[0]
    assert head.startswith("dvc repro: 5 stage(s), 5 expected to run, about ") and "not estimated" not in head
    assert "vocabulary" not in fail.stdout  # --quiet: no runner output while the stages run
    assert re.search(r"^\[5/5\] pretrain \(train\)  .* elapsed, about .* left$", fail.stdout, re.MULTILINE)
    assert re.search(r"^stopped: 4 stage\(s\) run, 0 up to date; ", fail.stdout, re.MULTILINE)
    err = fail.stderr
    assert re.search(r"^stage pretrain-\w+ \(train\) failed; its output:$", err, re.MULTILINE), err
    assert re.search(r"^    error: train pretrain-\w+: data source 'a_clean' has 0 tokens", err, re.MULTILINE), err
    assert re.search(r"^ERROR: failed to reproduce 'pretrain-\w+'", err, re.MULTILINE)
    assert "Traceback" not in err


# -- the same, line by line, against what `dvc repro` prints --------------------------------------
TRANSCRIPT = """\
Running stage 'pipelines/flow/dvc.yaml:code-tokenizer':
> sh pipelines/flow/stages/python -m olmospec.code_stage --config pipelines/flow/stages/code-tokenizer.json
Generating lock file 'pipelines/flow/dvc.lock'
Running stage 'pipelines/flow/dvc.yaml:tok-1':
> sh pipelines/flow/stages/python -m runners.tokenizer --config pipelines/flow/stages/tok-1.json
tokenizer: vocabulary 300 from 60 documents
Generating lock file 'pipelines/flow/dvc.lock'
Updating lock file 'pipelines/flow/dvc.lock'

Stage 'pipelines/flow/dvc.yaml:man-1' didn't change, skipping
Stage 'pipelines/flow/dvc.yaml:code-curate' didn't change, skipping
Stage 'pipelines/flow/dvc.yaml:cur-1' is cached - skipping run, checking out outputs
WARNING: 'runs/cur-1/rejects.jsonl' is empty.
Running stage 'code-train':
> sh stages/python -m olmospec.code_stage --config stages/code-train.json
Running stage 'pipelines/flow/dvc.yaml:pre-1':
> sh pipelines/flow/stages/python -m runners.train --config pipelines/flow/stages/pre-1.json
pre-1:   0%|          | 0/4\rpre-1:  50%|#####     | 2/4\rpre-1: 100%|##########| 4/4
WARNING: Some of the cache files do not exist neither locally nor on remote.
error: train pre-1: data source 'a' has 0 tokens
ERROR: failed to reproduce 'pipelines/flow/dvc.yaml:pre-1': failed to run: sh ..., exited with 1
"""


def _nodes():
    n = lambda i, label, kind, up=(), flops=None: SimpleNamespace(id=i, label=label, kind=kind, upstream=list(up),
                                                                 variants=["base"], flops=flops, inputs=[])
    return {"tok-1": n("tok-1", "tokenizer-tok", "tokenizer"), "man-1": n("man-1", "manifest-a", "manifest"),
            "cur-1": n("cur-1", "a_clean-exact", "curate", ["man-1"]),
            "pre-1": n("pre-1", "pretrain", "train", ["tok-1", "cur-1"], 2e9)}


def _view(quiet: bool, chunk: int, tty: bool = False):
    nodes = _nodes()
    out, err = io.StringIO(), io.StringIO()
    view = View(nodes, list(nodes), Estimator(nodes, {}), {"tok-1", "pre-1"}, quiet=quiet, tty=tty, out=out,
                variants=1)
    split = Splitter()
    for i in range(0, len(TRANSCRIPT), chunk):  # as the pipe delivers it, cut anywhere
        view.feed(split.feed(TRANSCRIPT[i:i + chunk]), split.pending)
    view.feed(split.close())
    view.close(1, err)
    return out.getvalue(), err.getvalue()


@pytest.mark.parametrize("chunk", [1, 7, 4096])
def test_output_filter_on_a_transcript(chunk):
    out, err = _view(quiet=False, chunk=chunk)
    lines = out.splitlines()
    assert lines[0].startswith("[1/4] tokenizer-tok (tokenizer)  ")
    assert lines[1:3] == ["    tokenizer: vocabulary 300 from 60 documents", lines[2]] and lines[2].startswith("    done in ")
    assert lines[3] == "[2-3/4] 2 stage(s) up to date"
    assert lines[4].startswith("[4/4] pretrain (train)  ")
    # the bar once, finished; a real DVC warning and the runner's error stay, under their stage
    assert lines[5:8] == ["    pre-1: 100%|##########| 4/4",
                          "    WARNING: Some of the cache files do not exist neither locally nor on remote.",
                          "    error: train pre-1: data source 'a' has 0 tokens"]
    assert "is empty." not in out and "lock file" not in out and "> sh" not in out and "code" not in out
    assert "stopped: 1 stage(s) run, 1 up to date, 1 restored from the run cache;" in out
    assert "(1 DVC warning(s) that an output is empty hidden)" in out
    assert err.splitlines()[0] == "stage pre-1 (train) failed; its output:"
    assert err.splitlines()[-1].startswith("ERROR: failed to reproduce 'pipelines/flow/dvc.yaml:pre-1'")


def test_quiet_shows_only_stage_lines_until_a_failure():
    out, err = _view(quiet=True, chunk=64)
    assert "vocabulary" not in out and "0 tokens" not in out and "100%" not in out
    assert "    WARNING: Some of the cache files" in out  # warnings are never hidden
    assert "    error: train pre-1: data source 'a' has 0 tokens" in err.splitlines()
    assert "    pre-1: 100%|##########| 4/4" in err.splitlines()


def test_progress_bars_redraw_on_a_terminal_and_tick_in_a_log(monkeypatch):
    out, _ = _view(quiet=False, chunk=64, tty=True)
    assert "\r    pre-1:  50%|#####     | 2/4\x1b[K" in out  # redrawn in place
    assert "    pre-1: 100%|##########| 4/4\n" in out and "is empty." not in out
    monkeypatch.setattr(progress, "TICK", 0.0)  # a log gets the bar's state every TICK seconds
    out, _ = _view(quiet=False, chunk=64)
    assert "\r" not in out and ["    pre-1:   0%|          | 0/4", "    pre-1:  50%|#####     | 2/4",
                                 "    pre-1: 100%|##########| 4/4"] == [x for x in out.splitlines() if x.startswith("    pre-1: ")]


def test_splitter_carriage_returns_and_crlf_across_chunks():
    s = Splitter()
    got = s.feed("a\r") + s.feed("\nbar 1") + s.feed("\rbar 2")
    assert got == [("line", "a"), ("update", "bar 1")] and s.pending == "bar 2"
    assert s.feed("\rdone\n") == [("update", "bar 2"), ("line", "done")] and s.pending == ""
    assert s.feed("partial") == [] and s.pending == ""  # an ordinary line is never drawn half
    assert s.close() == [("line", "partial")]


def test_estimates_from_receipts_labels_kinds_and_flops(tmp_path):
    nodes = _nodes()
    nodes["mid-1"] = SimpleNamespace(id="mid-1", label="midtrain", kind="train", upstream=["pre-1"],
                                     variants=["base"], flops=1e9, inputs=[])
    for sid, key, secs in [("tok-1", "wall_seconds", 2.0), ("pretrain-old", "wall_time_s", 10.0)]:
        (tmp_path / "runs" / sid).mkdir(parents=True)
        (tmp_path / "runs" / sid / "receipt.json").write_text(json.dumps({key: secs}))
    past = read_receipts(tmp_path, nodes)
    assert past["pretrain-old"] == Past("pretrain-old", "pretrain", None, 10.0)
    est = Estimator(nodes, past)
    assert est.seconds("tok-1") == 2.0  # its own receipt
    assert est.seconds("pre-1") == 10.0  # an earlier run with the same label
    assert est.seconds("man-1") is None and est.remaining(["tok-1", "man-1"]) == (2.0, 1)
    est.finished("tok-1", 3.0, 2.0)  # 1 s of start-up and hashing beyond the runner's own time
    assert est.seconds("tok-1") == 3.0 and est.seconds("pre-1") == 11.0
    assert est.seconds("man-1") is None  # nothing like it has run: not estimated, not guessed
    est.finished("pre-1", 20.0, 18.0)
    assert est.seconds("mid-1") == 10.0  # same kind, half the FLOPs of the measured pretrain
