"""Stage identity: a semantic change gives a new id to that stage and every stage downstream, and to
nothing else; a runtime-only change gives no new id. One case per kind of field."""

import pytest

from olmospec.api import load_text
from olmospec.graph_stages import build_graph
from tests.compiler.flow import FLOW


def graph(text):
    return build_graph(load_text(text, "flow.ospec"), __import__("pathlib").Path("."))


def downstream(g, roots):
    out = set(roots)
    changed = True
    while changed:
        changed = False
        for n in g.nodes.values():
            if n.id not in out and any(u in out for u in n.upstream):
                out.add(n.id)
                changed = True
    return out


SEMANTIC = [
    # (what, old text, new text, labels of the stages that change themselves)
    ("source path", 'path = "data/code.parquet"', 'path = "data/code2.parquet"', {"manifest-code", "tokenize-code"}),
    ("curation step param", "bands = 14  rows = 8", "bands = 16  rows = 8", {"web-minhash"}),
    ("decontamination ngram", "ngram = 8  min_overlap", "ngram = 13  min_overlap", {"web-decontaminate"}),
    ("mix share", "web 80%  code 20%", "web 70%  code 30%", {"mix-pre", "pretrain"}),
    ("repetition cap", "max_repeat = 4x", "max_repeat = 3x", {"mix-pre", "pretrain"}),
    ("tokenizer vocab", "vocab = 512", "vocab = 640", {"tokenizer-tok"}),
    ("model width", "d_model = 64", "d_model = 128", {"pretrain"}),
    ("attention pattern", "window(32), window(32), window(32), full", "window(16), window(16), window(16), full",
     {"pretrain"}),
    ("stage budget", "tokens = 1M  seq", "tokens = 2M  seq", {"pretrain"}),
    ("schedule", "warmup = 10 steps", "warmup = 20 steps", {"pretrain"}),
    ("sft learning rate", "epochs = 2  lr = 1e-3", "epochs = 2  lr = 5e-4", {"sft"}),
    ("rl reward", "rewards = [math]", "rewards = [random]", {"rlvr"}),
    ("eval tasks", "eval e after [pretrain, sft, rlvr]", "eval e after [pretrain, rlvr]", set()),
]


@pytest.mark.parametrize("what,old,new,changed", SEMANTIC, ids=[c[0] for c in SEMANTIC])
def test_semantic_change_reruns_stage_and_downstream_only(what, old, new, changed):
    assert old in FLOW
    ga, gb = graph(FLOW), graph(FLOW.replace(old, new))
    roots = {i for i, n in gb.nodes.items() if n.label in changed}
    assert roots or not changed, f"{what}: no stage labelled {changed}"
    for r in roots:
        assert r not in ga.nodes, f"{what}: {r} kept its id"
    expect_new = downstream(gb, roots)
    new_ids = set(gb.nodes) - set(ga.nodes)
    assert new_ids == expect_new, f"{what}: unexpected reruns {sorted(new_ids ^ expect_new)}"


RUNTIME = [
    ("process count", "procs_per_node = 2", "procs_per_node = 8"),
    ("micro batch", "micro_batch = 8", "micro_batch = 2"),
    ("gpus and launcher", "runtime { procs_per_node = 2  micro_batch = 8 }",
     "runtime { gpus = 64  nodes = 8  launcher = torchrun  throughput = 5000 tok/s/gpu  compile = true }"),
]


@pytest.mark.parametrize("what,old,new", RUNTIME, ids=[c[0] for c in RUNTIME])
def test_runtime_change_keeps_every_id(what, old, new):
    assert old in FLOW
    assert set(graph(FLOW).nodes) == set(graph(FLOW.replace(old, new)).nodes)


def test_cosmetic_changes_keep_every_id():
    ga = graph(FLOW)
    commented = FLOW.replace("stage sft", "# the SFT stage\nstage sft").replace("  dedup exact", "  dedup exact  # cheap")
    spaced = FLOW.replace("  ", "      ").replace(" = ", "=")
    for text in (commented, spaced):
        assert set(graph(text).nodes) == set(ga.nodes)


def test_block_order_keeps_every_id():
    blocks = FLOW.strip().split("\nstage ")
    head, stages = blocks[0], ["stage " + b for b in blocks[1:]]
    reordered = head + "\n" + "\n".join(reversed(stages))
    assert set(graph(reordered).nodes) == set(graph(FLOW).nodes)


def test_eval_only_task_settings_do_not_touch_curation_or_training():
    ga = graph(FLOW)
    gb = graph(FLOW.replace('task math { path = "data/math.jsonl" }',
                            'task math { path = "data/math.jsonl"  limit = 5  metric = acc }'))
    changed = {n.kind for i, n in gb.nodes.items() if i not in ga.nodes}
    assert changed == {"eval"}


def test_warmup_fraction_reaches_an_epoch_budgeted_stage():
    g = graph(FLOW.replace("epochs = 2  lr = 1e-3  schedule linear", "epochs = 2  lr = 1e-3  schedule linear { warmup = 5% }"))
    sft = next(n for n in g.nodes.values() if n.label == "sft")
    assert sft.config["schedule"]["warmup_fraction"] == 0.05 and sft.config["steps"] is None
