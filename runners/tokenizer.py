"""The `tokenizer` stage: train a byte-level BPE tokenizer (every digit its own token) on the spec's
sources and save it as a transformers-loadable folder.

    python -m runners.tokenizer --config stages/tokenizer-<name>-<hash>.json
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from runners.common import write_json
from runners.stage_main import stage_main


def run(cfg: dict[str, Any]) -> dict[str, Any]:
    from runners.curation.tokenize import save_tokenizer, train_tokenizer
    from runners.inputs import read_texts

    train = cfg["train"]
    texts, rejects = read_texts(cfg["inputs"])
    if train.get("max_docs"):
        texts = texts[: train["max_docs"]]
    out = Path(cfg["output"])
    tok = train_tokenizer(texts, vocab_size=train["vocab"], min_frequency=train["min_frequency"],
                          split_digits=train["split_digits"])
    save_tokenizer(tok, out / "tokenizer")
    metrics = {"vocab_size": tok.vocab_size, "docs": len(texts), "chars": sum(map(len, texts)), "rejects": rejects}
    write_json(out / "metrics.json", metrics)
    print(f"tokenizer: vocabulary {tok.vocab_size} from {len(texts)} documents")
    return metrics


def main(argv: list[str] | None = None) -> None:
    stage_main("tokenizer", __doc__, run, argv)


if __name__ == "__main__":
    main()
