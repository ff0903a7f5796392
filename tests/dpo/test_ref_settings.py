"""The reference stage's settings change what it keeps: `max_pairs` stops reading after that many
usable pairs, `length_control` removes pairs whose completions differ by more than that many tokens,
`heldout` sets the share of pairs kept out of training. The configs are the compiler's (a spec's
`<dpo>-ref` node), run by `runners.ref_logps` on a tiny exported model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from olmospec.api import load_spec
from olmospec.graph_stages import build_graph
from tests.evals.tiny_export import export_tiny_model

SPEC = """
olmospec 1
tokenizer tok { path = "tok"  vocab = 512 }
model m { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok }
source chats { path = "chats.jsonl"  text = "messages" }
source prefs { path = "prefs.jsonl"  text = "prompt" }
stage sft { model = m  data = chats  epochs = 1  seq = 64  batch = 4 seqs  lr = 1e-3 }
stage dpo after sft { pairs = prefs  lr = 1e-6  epochs = 1  seq = 256  batch = 4 seqs  SETTINGS }
"""


def _pairs(n: int) -> str:
    """Pairs whose rejected side is short for even ids and many tokens longer for odd ones."""
    rows = []
    for i in range(n):
        long = " and so on" * 12 if i % 2 else ""
        rows.append(
            {
                "id": f"p{i:02d}",
                "prompt": f"What is {i} plus {i}?",
                "chosen": f"It is {2 * i}.",
                "rejected": f"It is {2 * i + 1}{long}.",
            }
        )
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    path = tmp_path_factory.mktemp("ref")
    (path / "prefs.jsonl").write_text(_pairs(40))
    (path / "chats.jsonl").write_text("")
    export_tiny_model(path / "ref_model", chat=True)
    return path


def _run(project: Path, settings: str, name: str) -> dict:
    from runners.ref_logps import run

    spec = project / f"{name}.ospec"
    spec.write_text(SPEC.replace("SETTINGS", settings))
    g = build_graph(load_spec(str(spec)), project)
    (node,) = [n for n in g.nodes.values() if n.label == "dpo-ref"]
    cfg = {
        **node.config,
        "model": str(project / "ref_model"),
        "output": str(project / name),
        "pairs": {**node.config["pairs"], "path": str(project / node.config["pairs"]["path"])},
        "runtime": {"device": "cpu", "threads": 1},
    }
    run(cfg)
    return json.loads((project / name / "stats.json").read_text())


def test_max_pairs_length_control_and_heldout_change_what_the_reference_stage_keeps(project):
    base = _run(project, "", "base")
    assert base["pairs"] == 40 and base["removed"] == 0 and base["length_control"] is None
    capped = _run(project, "max_pairs = 10", "capped")
    assert capped["records_in"] == 10 and capped["pairs"] == 10
    controlled = _run(project, "length_control = 4 tokens", "controlled")
    assert controlled["removed_by_reason"] == {"length_gap": 20} and controlled["pairs"] == 20
    assert (
        controlled["after_length_control"]["length_gap_mean"]
        < base["after_length_control"]["length_gap_mean"]
    )
    half = _run(project, "heldout = 50%", "half")
    assert base["heldout_pairs"] < 10 < half["heldout_pairs"] and half["pairs"] == 40
