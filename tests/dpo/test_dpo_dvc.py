"""DPO through the user's path: a spec compiled into a fresh project, `dvc repro`, edits of the spec.

- `dvc repro` builds delta pairs from the flow's own checkpoints (chosen = sft, rejected =
  pretrain), each with its provenance; malformed prompt records go to the rejects with their line;
  the DPO stage raises held-out reward accuracy from 0.5 while the margin grows.
- What reruns: beta or lr -> the DPO stage only (`olmospec diff` and `dvc status`, then `dvc repro`
  runs it alone); the sequence length -> the reference stage and DPO, not generation; the reference
  model (sft) or the sampling settings -> generation too; the chat template inside the reference
  model's hf/ folder -> `dvc status` flags the reference stage.
- A killed DPO stage resumes from its checkpoint to bitwise the same weights; 2 ranks (torchrun,
  FSDP2) follow the 1-process loss curve.
- A source of pair records with malformed records: each rejected with reason and line, the rest
  trained on; a source with none usable stops with one line and exit status 1.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import pytest
from dpo_repo import DPO, SPEC, changed_stages, cli, compile_spec, dvc, env, make_repo, stage_dir, stage_id

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = make_repo(tmp_path_factory.mktemp("dpo") / "project")
    dvc(path, "repro")
    return path


def _rows(path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def _diff(repo, new_spec: str) -> dict:
    (repo / "edited.ospec").write_text(new_spec)
    r = cli(repo, "diff", str(repo / "flow.ospec"), str(repo / "edited.ospec"), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _rerun_labels(d: dict) -> set[str]:
    """Labels of the stages the edited base experiment runs that the original does not have."""
    return {s["id"].rsplit("-", 1)[0] for e in d["entries"] if e["kind"] == "base" for s in e["stages"]}


def test_delta_pairs_dpo_and_what_reruns(repo):
    pairs_dir, ref_dir, dpo_dir = stage_dir(repo, "dpo-pairs"), stage_dir(repo, "dpo-ref"), stage_dir(repo, "dpo")
    stats = json.loads((pairs_dir / "stats.json").read_text())
    assert stats["rejects_by_reason"] == {"empty_prompt": 1, "invalid_json": 1, "no_prompt": 1}
    rejects = [json.loads(x) for x in (pairs_dir / "rejects.jsonl").read_text().splitlines()]
    assert sorted(r["line"] for r in rejects) == [7, 20, 34]
    assert stats["prompts_used"] == 48 and stats["pairs_kept"] + stats["pairs_removed"] == 48
    assert json.loads((pairs_dir / "receipt.json").read_text())["throughput"]["chosen_tokens_per_s"] > 0
    pairs = [json.loads(x) for x in (pairs_dir / "pairs.jsonl").read_text().splitlines()]
    assert len(pairs) == stats["pairs_kept"] > 20
    prov = pairs[0]["provenance"]
    assert prov["chosen"]["model"] == "sft" and prov["rejected"]["model"] == "pretrain"
    assert prov["chosen"]["seed"] != prov["rejected"]["seed"]
    assert prov["chosen"]["template"] == "own" and prov["rejected"]["template"] == "policy"  # a base model
    assert prov["kept_by"] == ["nonempty", "chosen_complete", "distinct"]

    ref = json.loads((ref_dir / "stats.json").read_text())
    assert ref["pairs"] == len(pairs) and ref["heldout_pairs"] > 0
    assert set(ref["before_length_control"]) >= {"length_gap_mean", "chosen_tokens_mean", "rejected_tokens_mean"}

    m = json.loads((dpo_dir / "metrics.json").read_text())
    # before training the policy is the reference, scored on the same batches: every pair ties exactly
    assert m["heldout_reward_accuracy_before"] == 0.5 and m["heldout_reward_margin_before"] == 0.0
    assert m["heldout_reward_accuracy_after"] > m["heldout_reward_accuracy_before"]
    assert m["heldout_reward_margin_after"] > m["heldout_reward_margin_before"]
    assert m["train_reward_margin_last_tenth"] > m["train_reward_margin_first_tenth"]
    ev = _rows(dpo_dir / "plots/eval.csv")
    assert ev[0]["step"] == "0" and int(ev[-1]["step"]) == m["steps"]

    # beta and lr: the DPO stage only
    for old, new in (("beta = 5", "beta = 2"), ("lr = 2e-3", "lr = 1e-3")):
        assert _rerun_labels(_diff(repo, SPEC.replace(old, new))) == {"dpo"}
    # the sequence length: reference log-probs and DPO, not generation
    assert _rerun_labels(_diff(repo, SPEC.replace("seq = 96", "seq = 80"))) == {"dpo-ref", "dpo"}
    # sampling settings: generation and everything after it
    assert _rerun_labels(_diff(repo, SPEC.replace("temperature = 1.0", "temperature = 0.7"))) == {
        "dpo-pairs", "dpo-ref", "dpo"}
    # the reference model (and chosen model) changes with sft
    assert _rerun_labels(_diff(repo, SPEC.replace("epochs = 4", "epochs = 3"))) == {"sft", "dpo-pairs", "dpo-ref", "dpo"}
    # a different tokenizer changes every model, hence the reference stage
    assert "dpo-ref" in _rerun_labels(_diff(repo, SPEC.replace("vocab = 320", "vocab = 300")))

    # the user edits beta: DVC reruns the DPO stage alone
    compile_spec(repo, SPEC.replace("beta = 5", "beta = 2"))
    assert {s.rsplit("-", 1)[0] for s in changed_stages(repo)} == {"dpo"}
    out = dvc(repo, "repro").stdout
    assert "Running stage 'dpo-" in out
    assert "Running stage 'dpo-pairs" not in out and "Running stage 'dpo-ref" not in out
    compile_spec(repo, SPEC)
    assert not changed_stages(repo)

    # the chat template lives in the reference model's hf/ folder: a change there is a changed
    # dependency of generation and of the reference stage (DVC hashes the folder)
    sft_hf = stage_dir(repo, "sft") / "hf"
    backup = repo.parent / "sft_hf_backup"
    shutil.copytree(sft_hf, backup)
    cfg_file = sft_hf / "tokenizer_config.json"
    tok_cfg = json.loads(cfg_file.read_text())
    template_file = sft_hf / "chat_template.jinja"
    if template_file.exists():
        template_file.write_text(template_file.read_text().replace("<|assistant|>", "<|bot|>"))
    else:
        tok_cfg["chat_template"] = tok_cfg["chat_template"].replace("<|assistant|>", "<|bot|>")
        cfg_file.write_text(json.dumps(tok_cfg))
    stale = {s.rsplit("-", 1)[0] for s in changed_stages(repo)}
    assert {"dpo-ref", "dpo-pairs"} <= stale
    shutil.rmtree(sft_hf)
    shutil.copytree(backup, sft_hf)
    assert not changed_stages(repo)


def test_dpo_resumes_bitwise_and_two_ranks_follow_one(repo):
    from safetensors.torch import load_file

    dpo_dir = stage_dir(repo, "dpo")
    cfg = repo / "stages" / f"{stage_id(repo, 'dpo')}.json"
    want = load_file(str(dpo_dir / "hf/model.safetensors"))
    losses = [float(r["loss"]) for r in _rows(dpo_dir / "plots/train.csv")]
    steps = len(losses)

    # a run killed after its step-4 checkpoint: only that checkpoint is left
    ckpts = dpo_dir / "checkpoints"
    for p in ckpts.glob("step_*"):
        if p.name != "step_00000004":
            shutil.rmtree(p)
    (ckpts / "latest").write_text("step_00000004\n")
    shutil.rmtree(dpo_dir / "hf")
    r = subprocess.run([sys.executable, "-m", "runners.dpo", "--config", str(cfg.relative_to(repo))], cwd=repo,
                       capture_output=True, text=True, env=env(), check=False)
    assert r.returncode == 0, r.stderr
    assert json.loads((dpo_dir / "receipt.json").read_text())["resumed_from_step"] == 4
    got = load_file(str(dpo_dir / "hf/model.safetensors"))
    assert all(bool((got[k] == want[k]).all()) for k in want), "resumed weights differ from an uninterrupted run"
    assert len(_rows(dpo_dir / "plots/train.csv")) == steps
    assert [int(x["step"]) for x in _rows(dpo_dir / "plots/eval.csv")] == sorted(
        {0, *range(max(1, steps // 8), steps + 1, max(1, steps // 8)), steps})

    # two processes (torchrun + FSDP2 over gloo): the same curve, up to reduction order
    runtime = cfg.with_name(cfg.name.replace(".json", ".runtime.json"))
    rt = json.loads(runtime.read_text())
    runtime.write_text(json.dumps({**rt, "nproc_per_node": 2}))
    shutil.rmtree(ckpts)
    try:
        r = subprocess.run([sys.executable, "-m", "runners.dpo", "--config", str(cfg.relative_to(repo))], cwd=repo,
                           capture_output=True, text=True, env=env(), check=False, timeout=600)
    finally:
        runtime.write_text(json.dumps(rt))
    assert r.returncode == 0, r.stderr[-2000:]
    rt_used = json.loads((dpo_dir / "receipt.json").read_text())["runtime"]  # the runtime as it took effect
    assert rt_used["world_size"] == 2 and rt_used["fsdp"]
    two = [float(x["loss"]) for x in _rows(dpo_dir / "plots/train.csv")]
    assert two == pytest.approx(losses, rel=1e-4, abs=1e-5)


def test_pair_source_with_malformed_records(repo):
    good = [{"id": f"g{i}", "prompt": f"what is {i} + 1?", "chosen": str(i + 1), "rejected": "the model data token"}
            for i in range(12)]
    lines = [json.dumps(x) for x in good[:6]]
    lines += ['{"id": "cut", "prompt": "what',  # line 7: bad JSON
              json.dumps({"id": "nochosen", "prompt": "what is 2 + 2?", "chosen": "", "rejected": "x y"}),  # line 8
              json.dumps({"id": "long", "prompt": "what is 3 + 3?", "chosen": "loss " * 200, "rejected": "6"}),  # 9
              json.dumps({"id": "norej", "prompt": "what is 4 + 4?", "chosen": "8"})]  # line 10
    lines += [json.dumps(x) for x in good[6:]]
    (repo / "data/prefs.jsonl").write_text("\n".join(lines) + "\n")
    spec = SPEC.replace(DPO, DPO.replace("prompts = prompts  pairs = delta(chosen = sft, rejected = pretrain)",
                                         "pairs = prefs").replace(
        "  temperature = 1.0  max_response = 24 tokens  length_control = 40 tokens\n", ""))
    spec += '\nsource prefs { path = "data/prefs.jsonl"  text = "prompt" }\n'
    compile_spec(repo, spec)
    out = dvc(repo, "repro").stdout
    assert "Running stage 'dpo-ref" in out and "Running stage 'sft" not in out
    ref_dir = stage_dir(repo, "dpo-ref")
    stats = json.loads((ref_dir / "stats.json").read_text())
    assert stats["rejects_by_reason"] == {"chosen_longer_than_seq": 1, "empty_chosen": 1, "invalid_json": 1,
                                          "no_rejected": 1}
    assert stats["pairs"] == 12 and stats["records_in"] == 16
    rejects = {json.loads(x)["line"]: json.loads(x)["reason"] for x in (ref_dir / "rejects.jsonl").read_text().split("\n") if x}
    assert rejects == {7: "invalid_json", 8: "empty_chosen", 9: "chosen_longer_than_seq", 10: "no_rejected"}

    (repo / "data/prefs.jsonl").write_text("\n".join(lines[6:10]) + "\n")  # nothing usable
    r = dvc(repo, "repro", ok=False)
    assert r.returncode != 0
    msg = [x for x in (r.stdout + r.stderr).splitlines() if x.startswith("error: ref_logps")]
    assert len(msg) == 1 and "no usable pairs" in msg[0] and "Traceback" not in r.stdout + r.stderr
