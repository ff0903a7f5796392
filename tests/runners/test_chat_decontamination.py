"""Post-training data through `decontaminate`, as OLMo 3 decontaminated all of it: chat records
(`messages`) and prompts (`prompt`, `answer`, `verifier`, ...) come out with every field kept, the
SFT stage trains on the curation's output folder, all through `dvc repro`."""

from __future__ import annotations

import json

import pytest
from tiny_repo import ROOT, make_repo, repro, stage_name

from olmospec.stage_io import read_stage_config

SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 512  data = [chat] }
source chat { path = "data/chat.jsonl"  text = "messages" }
source prompts { path = "data/prompts.jsonl"  text = "prompt" }
task math { path = "data/tiny/evals/math.jsonl"  type = generate  metric = exact_match }
curate chat_clean from chat { decontaminate { against = [math] } }
curate prompts_clean from prompts { decontaminate { against = [math] } }
model tiny { d_model = 32  layers = 2  heads = 2  mlp = 64  tokenizer = tok  attention = repeat(full) }
stage sft { model = tiny  data = chat_clean  steps = 4  seq = 128  batch = 4 seqs  lr = 1e-3
            runtime { threads = 1 } }
stage rlvr after sft { prompts = prompts_clean  rewards = [math]  steps = 1  lr = 1e-6 }
"""


def _lines(path):
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.slow
def test_chat_and_prompt_records_are_decontaminated_and_sft_reads_the_output(tmp_path):
    from runners.curation.io import list_shards, read_shard

    item = _lines(ROOT / "specs/data/tiny/evals/math.jsonl")[0]
    chats = _lines(ROOT / "specs/data/tiny/sft/sft.jsonl")[:300]
    chats.append({"id": "leak", "task": "math", "messages": [
        {"role": "user", "content": item["question"]}, {"role": "assistant", "content": f"Answer: {item['answer']}"}]})
    prompts = _lines(ROOT / "specs/data/tiny/rl_prompts/rl.jsonl")[:200]
    prompts.append({"id": "leak-p", "prompt": "Solve: " + item["question"], "answer": item["answer"],
                    "verifier": "math"})
    repo = make_repo(tmp_path / "repo", SPEC, {f"data/{name}.jsonl": "".join(json.dumps(r) + "\n" for r in records)
                                               for name, records in (("chat", chats), ("prompts", prompts))})
    sft = stage_name(repo, "sft")
    repro(repo, sft, stage_name(repo, "prompts_clean-decontaminate"))
    for label, records, leak in (("chat_clean", chats, "leak"), ("prompts_clean", prompts, "leak-p")):
        cfg = read_stage_config(repo / "stages" / f"{stage_name(repo, f'{label}-decontaminate')}.json")
        out = repo / cfg["output"]
        kept = [d for s in list_shards([out / "docs"]) for d in read_shard(s, text_field="messages"
                                                                         if label == "chat_clean" else "prompt")[0]]
        removed = {r["id"] for r in _lines(out / "removed.jsonl")}
        # NOTE: besides the planted leak, a few templated math questions match the 8-gram rule (the
        # template's words are the eval question's, only the numbers differ)
        assert leak in removed and len(removed) < 0.05 * len(records)
        assert kept == [r for r in records if r["id"] not in removed]  # every field, messages untouched
        if label == "chat_clean":
            n_chats = len(kept)
    train_cfg = read_stage_config(repo / "stages" / f"{sft}.json")
    assert train_cfg["data"][0]["path"].endswith("/docs")
    metrics = json.loads((repo / train_cfg["output"] / "metrics.json").read_text())
    assert metrics["sft_data"]["conversations"] == n_chats, metrics
    rl_cfg = read_stage_config(repo / "stages" / f"{stage_name(repo, 'rlvr')}.json")
    assert rl_cfg["prompts"]["kind"] == "docs" and rl_cfg["prompts"]["text"] == "prompt"
