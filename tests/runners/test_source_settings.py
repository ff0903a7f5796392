"""Source and tokenizer settings change what the manifest and tokenizer stages do, through `dvc repro`
in a fresh project: a source's `license` is recorded in its manifest, `text`/`id` name the fields
read, `format` is checked against the files; the BPE's `min_frequency` and `max_docs` change the
tokenizer it trains."""

from __future__ import annotations

import json
import random
import string

import pytest
import yaml

from tests.dvc_repo import make_repo, repro

_rng = random.Random(0)
WORDS = ["".join(_rng.choice(string.ascii_lowercase) for _ in range(_rng.randint(4, 9))) for _ in range(2000)]
SPEC = """
olmospec 1
tokenizer tok { train = bpe  vocab = 600  data = [web] }
source web { path = "data/web.jsonl"  license = "CC-BY-4.0" }
source notes { path = "data/notes.jsonl"  text = "body"  id = "key" }
source wrong { path = "data/web.jsonl"  format = parquet }
ablation rare { tok.min_frequency = 40 }
ablation few { tok.max_docs = 20 }
"""


def _docs(n: int, text: str = "text", key: str = "id") -> str:
    rng = random.Random(n)
    rows = [{key: f"d{i}", text: " ".join(rng.choice(WORDS) for _ in range(30))} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    path = make_repo(
        tmp_path_factory.mktemp("sources") / "repo",
        SPEC,
        {"data/web.jsonl": _docs(200), "data/notes.jsonl": _docs(30, "body", "key")},
    )
    stages = yaml.safe_load((path / "dvc.yaml").read_text())["stages"]
    good = [name for name in stages if not name.startswith("manifest-wrong")]
    repro(path, *good)
    return path


def _manifests(repo, source: str) -> list[dict]:
    """The source's manifests: one per variant's tokenizer, as each counts tokens with its own."""
    found = sorted((repo / "runs").glob(f"manifest-{source}-*/manifest.json"))
    assert len(found) == 3, found
    return [json.loads(p.read_text()) for p in found]


def test_license_text_and_id_fields_reach_the_manifest(repo):
    rows = [json.loads(x) for x in (repo / "data/notes.jsonl").read_text().splitlines()]
    for web, notes in zip(_manifests(repo, "web"), _manifests(repo, "notes"), strict=True):
        assert web["license"] == "CC-BY-4.0" and notes["license"] is None
        # the documents were read from `body` (keyed by `key`): none is an unreadable record
        assert notes["totals"]["docs"] == 30 and notes["totals"]["rejects"] == 0
        assert notes["totals"]["chars"] == sum(len(r["body"]) for r in rows)


def test_a_format_that_does_not_match_the_files_fails_the_stage(repo):
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    name = next(n for n in stages if n.startswith("manifest-wrong"))
    r = repro(repo, name, ok=False)
    assert r.returncode != 0
    assert "says format = parquet" in r.stdout + r.stderr and "Traceback" not in r.stdout + r.stderr


def test_min_frequency_and_max_docs_change_the_tokenizer(repo):
    tokenizers = sorted((repo / "runs").glob("tokenizer-tok-*"))
    assert len(tokenizers) == 3  # base, rare, few
    by = {}
    for t in tokenizers:
        cfg = json.loads((repo / "stages" / f"{t.name}.json").read_text())["train"]
        by[(cfg["min_frequency"], cfg["max_docs"])] = json.loads((t / "metrics.json").read_text())
    base, rare, few = by[(2, None)], by[(40, None)], by[(2, 20)]
    assert base["docs"] == rare["docs"] == 200 and few["docs"] == 20
    # a merge needs 40 occurrences: fewer merges are learnt than the vocabulary allows
    assert rare["vocab_size"] < base["vocab_size"]
