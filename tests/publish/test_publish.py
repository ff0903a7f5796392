"""`olmospec publish` and `olmospec verify` as a user runs them, on a spec run through `dvc repro`:
publish to the default local folder, commit what it says, clone into a new directory, `dvc pull`:
the clone has every output byte for byte and nothing reruns. `verify` reruns the training stage in
the clone from its locked inputs (bit-exact on the CPU) and reports outputs that a rerun does not
reproduce with the file and the size of the difference."""

import json

import numpy as np
import pytest
from dvc_repo import repro
from published import clone, commit, copy_of, dvc, olmospec, outputs, stage_id


@pytest.mark.slow
def test_a_published_run_pulls_into_a_clone_byte_for_byte_without_recomputing(ran, tmp_path):
    a = copy_of(ran, tmp_path / "a")
    r = olmospec(a, "publish")
    assert f"remote 'published' -> {tmp_path / 'a.dvc-remote'}" in r.stdout
    assert "remote 'published' holds every output of the 10 locked stage(s)" in r.stdout  # 5, and 5 code stages
    assert "warning" not in r.stdout  # every file a stage wrote is a declared output (checkpoints aside)
    assert "git must carry" in r.stdout and "  dvc.lock\n" in r.stdout and "  .dvc/config\n" in r.stdout
    commit(a)
    again = olmospec(a, "publish")
    assert "Everything is up to date." in again.stdout and "git already has dvc.lock" in again.stdout

    b = clone(a, tmp_path / "elsewhere" / "b")
    assert not (b / "runs").exists()
    dvc(b, "pull")
    want = outputs(a)
    assert len(want) > 20 and any(k.endswith("receipt.json") for k in want) and any("plots" in k for k in want)
    assert outputs(b) == want
    assert "Data and pipelines are up to date." in dvc(b, "status").stdout
    r = repro(b)
    assert "Running stage" not in r.stdout, r.stdout
    assert outputs(b) == want


@pytest.mark.slow
def test_verify_reruns_training_bit_exact_and_reports_corrupted_outputs(ran, tmp_path):
    from safetensors.numpy import load_file, save_file

    a = copy_of(ran, tmp_path / "a")
    olmospec(a, "publish")
    commit(a)
    b = clone(a, tmp_path / "b")  # nothing pulled: verify fetches the locked inputs and outputs itself
    pretrain = stage_id(b, "pretrain-")
    r = olmospec(b, "verify", "pretrain")
    assert r.stdout.rstrip().endswith("0 mismatch(es)"), r.stdout + r.stderr
    weights = f"runs/{pretrain}/hf/model.safetensors"
    assert f"  ok        numeric  {weights}  (" in r.stdout and "identical bytes" in r.stdout
    assert not (b / "runs").exists()  # the rerun happened in a scratch folder

    # a published result that the stage does not reproduce: one weight and the final loss edited
    dvc(b, "pull")
    w = load_file(str(b / weights))
    name = min(w)
    w[name].reshape(-1)[3] += np.float32(0.25)
    save_file(w, str(b / weights))
    mpath = b / "runs" / pretrain / "metrics.json"
    metrics = json.loads(mpath.read_text())
    metrics["final_loss"] += 0.5
    mpath.write_text(json.dumps(metrics, indent=2))
    dvc(b, "commit", "-f", "-q", pretrain)
    tokenize = stage_id(b, "tokenize-")  # (after pretrain's commit, which records its inputs as they are now)
    tokens = b / "runs" / tokenize / "shards" / "tokens.bin"
    raw = bytearray(tokens.read_bytes())
    raw[100] ^= 0xFF
    tokens.write_bytes(bytes(raw))
    dvc(b, "commit", "-f", "-q", tokenize)

    r = olmospec(b, "verify", pretrain, ok=False)
    assert r.returncode == 1, r.stdout + r.stderr
    out = r.stdout
    assert f"  MISMATCH  numeric  {weights}  (" in out
    assert f"tensor {name}: 1 of " in out and "max |diff| 0.25 at" in out
    assert f"  MISMATCH  fields   runs/{pretrain}/metrics.json" in out and "final_loss: " in out and "|diff| 0.5 >" in out
    assert out.rstrip().endswith("2 mismatch(es)"), out

    r = olmospec(b, "verify", "tokenize-", ok=False)
    assert r.returncode == 1
    assert f"MISMATCH  exact    runs/{tokenize}/shards/tokens.bin" in r.stdout
    assert "1 of " in r.stdout and "bytes differ" in r.stdout and "first at byte 100" in r.stdout


def test_publish_refuses_an_out_of_date_pipeline_and_verify_unknown_stages(ran, tmp_path):
    a = copy_of(ran, tmp_path / "a")
    (a / "data" / "text.jsonl").write_text((a / "data" / "text.jsonl").read_text()[:-200] + "\n")
    r = olmospec(a, "publish", ok=False)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "locked stage(s) are out of date" in r.stderr and "data/text.jsonl modified" in r.stderr
    assert not (tmp_path / "a.dvc-remote").exists()
    r = olmospec(a, "verify", "sft", ok=False)
    assert r.returncode == 1 and "error: no locked stage 'sft' in dvc.lock" in r.stderr
    r = olmospec(a, "verify", "manifest", ok=False)  # the source changed: not its locked input any more
    assert r.returncode == 1 and "data/text.jsonl is modified since dvc.lock recorded it" in r.stderr
    with open(a / "runners" / "train" / "loop.py", "a") as f:  # the code a stage's code stage hashed
        f.write("# an edit\n")
    r = olmospec(a, "verify", "pretrain", ok=False)
    assert r.returncode == 1 and "runners/train/loop.py is modified since dvc.lock recorded it: verify reruns " \
        "pretrain-" in r.stderr and "with the runner code that code-train hashed" in r.stderr, r.stderr
