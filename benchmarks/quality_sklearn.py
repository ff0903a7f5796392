"""The quality classifier side by side with scikit-learn's implementation of the same model family.

    flock -x /tmp/olmospec-cpu.lock python benchmarks/quality_sklearn.py

Ours (runners/curation/quality.py): hashed word uni+bigrams with punctuation as tokens, 2^20
buckets, 1/sqrt(n) weights, logistic loss (trained by SGDClassifier since this comparison: the
former numpy/Adam trainer had 0.910 held-out accuracy and 549 training docs/s here, against
scikit-learn's 0.927 and 5,753). scikit-learn's own pipeline:
`HashingVectorizer(ngram_range=(1, 2), n_features=2**20, alternate_sign=False, norm="l2")` with
the same tokens (words and single punctuation marks) + `SGDClassifier(loss="log_loss",
random_state=0)`, deterministic. Same data as the `quality_model` stage of the tiny spec (its
positive and negative sources, 10% held out after a seeded shuffle), plus a scoring corpus (the
tiny web documents, repeated to 20 MB). Reported: held-out accuracy, training seconds, scoring docs/s
and MB/s, best of 3 runs each.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from runners.curation.io import list_shards, read_shard
from runners.curation.quality import TrainConfig, prepare, train

TOKENS = r"(?u)\w+|[^\w\s]"


def _texts(folder: Path) -> list[str]:
    return [d["text"] for s in list_shards([folder]) for d in read_shard(s)[0]]


def _split():
    tiny = ROOT / "specs/data/tiny"
    pos, neg = _texts(tiny / "quality_pos"), _texts(tiny / "quality_neg")
    rng = random.Random(0)
    rng.shuffle(pos)
    rng.shuffle(neg)
    kp, kn = int(len(pos) * 0.1), int(len(neg) * 0.1)
    web = _texts(tiny / "web")
    scoring = (web * (1 + int(20e6 // sum(map(len, web)))))
    return (pos[kp:], neg[kn:]), (pos[:kp], neg[:kn]), scoring


def _best(fn, rounds=3):
    times, out = [], None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def ours(train_set, held, scoring):
    (pos, neg), (hp, hn) = train_set, held
    t_train, model = _best(lambda: train(pos, neg, TrainConfig()))  # NOTE: now trained by scikit-learn
    acc = (float((model.score(hp) >= 0.5).sum()) + float((model.score(hn) < 0.5).sum())) / (len(hp) + len(hn))
    t_score, _ = _best(lambda: model.score(scoring))
    return acc, t_train, t_score


def sklearn(train_set, held, scoring):
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import SGDClassifier

    (pos, neg), (hp, hn) = train_set, held
    vec = HashingVectorizer(ngram_range=(1, 2), n_features=2**20, alternate_sign=False, norm="l2",
                            token_pattern=TOKENS, preprocessor=prepare)
    y = np.array([1] * len(pos) + [0] * len(neg))

    def fit():
        return SGDClassifier(loss="log_loss", random_state=0).fit(vec.transform(pos + neg), y)

    t_train, clf = _best(fit)
    pred = clf.predict(vec.transform(hp + hn))
    acc = float((pred == np.array([1] * len(hp) + [0] * len(hn))).mean())
    t_score, _ = _best(lambda: clf.predict_proba(vec.transform(scoring))[:, 1])
    return acc, t_train, t_score


def main() -> None:
    train_set, held, scoring = _split()
    mb = sum(len(t.encode()) for t in scoring) / 1e6
    rows = {}
    for name, fn in (("ours (hashed features, SGDClassifier-trained)", ours), ("scikit-learn (HashingVectorizer + SGD log_loss)", sklearn)):
        acc, t_train, t_score = fn(train_set, held, scoring)
        rows[name] = {"heldout_accuracy": acc, "train_s": t_train, "train_docs_per_s": sum(map(len, train_set)) / t_train,
                      "score_docs_per_s": len(scoring) / t_score, "score_mb_per_s": mb / t_score}
    print(f"train {sum(map(len, train_set))} docs, held out {sum(map(len, held))}, scoring {len(scoring)} docs "
          f"({mb:.1f} MB)")
    for name, r in rows.items():
        print(f"  {name:48s} accuracy {r['heldout_accuracy']:.3f}  train {r['train_s']:.2f} s "
              f"({r['train_docs_per_s']:.0f} docs/s)  score {r['score_docs_per_s']:.0f} docs/s "
              f"({r['score_mb_per_s']:.1f} MB/s)")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
