"""How `olmospec verify` compares a rerun output file with the locked one. A file's class comes from its
name; every mismatch names the file (and the field, tensor, column or line) and the size of the difference.

| class | files | passes when |
|---|---|---|
| exact | everything not listed below: data and token shards, manifests, configs, tokenizers, jsonl, reports | the bytes are equal |
| numeric | `*.safetensors` (weights), float `*.npy` (log-probs), float columns of `*.parquet` (DPO reference log-probs), `plots/*.csv`, float fields of the result files below | names, shapes and dtypes are equal and every value has abs(a - b) <= atol + rtol * abs(locked) |
| statistical | scores in the result files: a field `X` with `X_stderr` beside it (lm-eval), a fraction in [0, 1] in a record with an item count `n`, per-item lists beside `ids` (`scores.json`) | abs(a - b) <= k * sqrt(se_a^2 + se_b^2) |

Result files (`metrics.json`, `receipt.json`, `results.json`, `stats.json`, `scores.json`) are compared field
by field: integers, strings and booleans exactly, floats numerically, scores statistically. Fields and
columns that measure the run rather than its result (wall time, throughput, MFU, memory, host, platform,
command line, code and library versions, dates) are volatile: never compared, only counted.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

RESULT_FILES = frozenset({"metrics.json", "receipt.json", "results.json", "stats.json", "scores.json"})
VOLATILE = re.compile(
    r"(^|_)(time|times|date|seconds|secs|wall|elapsed|host|hostname|platform|argv|pid|mfu|throughput|"
    r"libraries|versions?|code_version|git_hash|env_info|peak_mem(_mb)?)(_|$)|_per_s$|_s$|_version$")


@dataclass(frozen=True)
class Tolerance:
    atol: float = 1e-5
    rtol: float = 1e-4
    k: float = 3.0

    def __str__(self) -> str:
        return f"atol={self.atol:g} rtol={self.rtol:g} k={self.k:g}"


@dataclass
class Finding:
    """The comparison of one file: its class, what was compared, and every mismatch found."""

    file: str
    cls: str
    problems: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    max_diff: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n

    def numeric(self, where: str, a: float, b: float, tol: Tolerance) -> None:
        self.count("numeric")
        if math.isnan(a) and math.isnan(b):
            return
        d = abs(a - b)
        self.max_diff = max(self.max_diff, d) if not math.isnan(d) else math.inf
        if not d <= tol.atol + tol.rtol * abs(a):
            self.problems.append(f"{where}: {a!r} locked, {b!r} rerun: |diff| {d:.3g} > atol + rtol*|locked| "
                                 f"= {tol.atol + tol.rtol * abs(a):.3g}")

    def statistical(self, where: str, a: float, b: float, se_a: float, se_b: float, tol: Tolerance) -> None:
        self.count("statistical")
        d, se = abs(a - b), math.sqrt(se_a ** 2 + se_b ** 2)
        if d == 0 or d <= tol.k * se:
            return
        size = f"{d / se:.2f} SE" if se > 0 else "its standard error is 0"
        self.problems.append(f"{where}: {a:.6g} locked, {b:.6g} rerun: |diff| {d:.3g} = {size} > k = {tol.k:g} "
                             f"(SE {se_a:.3g} locked, {se_b:.3g} rerun)")

    def summary(self) -> str:
        parts = [f"{n} {what}" for what, n in sorted(self.counts.items())]
        if self.counts.get("numeric"):
            parts.append(f"max |diff| {self.max_diff:.3g}")
        return ", ".join(parts)


def file_class(rel: str) -> str:
    name = rel.rsplit("/", 1)[-1]
    if name in RESULT_FILES:
        return "fields"
    if name.endswith((".safetensors", ".npy", ".parquet")) or (name.endswith(".csv") and "/plots/" in f"/{rel}"):
        return "numeric"
    return "exact"


def compare_file(rel: str, locked: Path, rerun: Path, tol: Tolerance) -> Finding:
    from olmospec import compare_arrays

    cls = file_class(rel)
    f = Finding(rel, cls)
    a, b = locked.read_bytes(), rerun.read_bytes()
    if a == b:
        f.count("identical bytes", len(a))
        if cls != "fields":  # result files are walked anyway, so the summary says what they hold
            return f
    name = rel.rsplit("/", 1)[-1]
    try:
        if cls == "fields":
            _walk(json.loads(a), json.loads(b), "", f, tol)
        elif cls == "numeric" and name.endswith(".csv"):
            _csv(a.decode("utf-8"), b.decode("utf-8"), f, tol)
        elif name.endswith(".safetensors"):
            compare_arrays.safetensors(a, b, f, tol)
        elif name.endswith(".npy"):
            compare_arrays.npy(a, b, f, tol)
        elif name.endswith(".parquet"):
            compare_arrays.parquet(locked, rerun, f, tol)
        else:
            _exact(a, b, f)
    except (ValueError, UnicodeDecodeError, KeyError) as e:  # unreadable on one side: compare the bytes
        f.cls = "exact"
        f.problems.append(f"not readable as {name.rsplit('.', 1)[-1]} ({e}); comparing bytes")
        _exact(a, b, f)
    return f


def _exact(a: bytes, b: bytes, f: Finding) -> None:
    f.cls = "exact"
    try:
        la, lb = a.decode("utf-8").splitlines(), b.decode("utf-8").splitlines()
    except UnicodeDecodeError:
        n = sum(x != y for x, y in zip(a, b, strict=False)) + abs(len(a) - len(b))
        first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
        f.problems.append(f"{n} of {max(len(a), len(b))} bytes differ (sizes {len(a)} locked, {len(b)} rerun), "
                          f"first at byte {first}")
        return
    diff = [i for i in range(max(len(la), len(lb))) if i >= len(la) or i >= len(lb) or la[i] != lb[i]]
    first = diff[0]

    def show(xs: list[str]) -> str:
        return repr(xs[first][:80]) if first < len(xs) else "(no line)"

    f.problems.append(f"{len(diff)} of {max(len(la), len(lb))} lines differ ({len(la)} locked, {len(lb)} rerun), "
                      f"first at line {first + 1}: {show(la)} locked, {show(lb)} rerun")


def _is_num(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _stderr_key(k: str) -> str:
    name, comma, filt = k.partition(",")  # lm-eval writes "acc,none" beside "acc_stderr,none"
    return f"{name}_stderr{comma}{filt}"


def _walk(a, b, where: str, f: Finding, tol: Tolerance) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        _walk_dict(a, b, where, f, tol)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            f.problems.append(f"{where}: {len(a)} items locked, {len(b)} rerun")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _walk(x, y, f"{where}[{i}]", f, tol)
    elif _is_num(a) and _is_num(b) and not (isinstance(a, int) and isinstance(b, int)):
        f.numeric(where, float(a), float(b), tol)
    else:
        f.count("exact")
        if a != b or type(a) is not type(b):
            f.problems.append(f"{where}: {json.dumps(a)[:80]} locked, {json.dumps(b)[:80]} rerun")


def _walk_dict(a: dict, b: dict, where: str, f: Finding, tol: Tolerance) -> None:
    n_a, n_b = a.get("n"), b.get("n")
    items = isinstance(n_a, int) and isinstance(n_b, int) and n_a > 0 and n_b > 0
    per_item = isinstance(a.get("ids"), list) and isinstance(b.get("ids"), list)
    for k in sorted(set(a) | set(b), key=str):
        p = f"{where}.{k}" if where else str(k)
        if VOLATILE.search(str(k).lower()):
            f.count("volatile (not compared)")
        elif k not in b or k not in a:
            f.problems.append(f"{p}: only in the {'locked output' if k in a else 'rerun'}")
        elif "_stderr" in k and _is_num(a[k]):
            f.count("standard errors")  # used by the score it belongs to
        elif _is_num(a[k]) and _is_num(a.get(_stderr_key(k))) and _is_num(b.get(_stderr_key(k))):
            f.statistical(p, a[k], b[k], a[_stderr_key(k)], b[_stderr_key(k)], tol)
        elif items and isinstance(a[k], float) and _is_num(b[k]) and 0 <= a[k] <= 1 and k != "n":
            f.statistical(p, a[k], b[k], math.sqrt(a[k] * (1 - a[k]) / n_a), math.sqrt(b[k] * (1 - b[k]) / n_b), tol)
        elif per_item and k != "ids" and _numbers(a[k]) and _numbers(b[k]):
            (ma, sa), (mb, sb) = _mean_se(a[k]), _mean_se(b[k])
            f.statistical(f"{p} (mean of {len(a[k])} items)", ma, mb, sa, sb, tol)
        else:
            _walk(a[k], b[k], p, f, tol)


def _numbers(x) -> bool:
    return isinstance(x, list) and bool(x) and all(_is_num(v) for v in x)


def _mean_se(xs: list[float]) -> tuple[float, float]:
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else 0.0
    return m, math.sqrt(var / n)


def _csv(a: str, b: str, f: Finding, tol: Tolerance) -> None:
    ra, rb = list(csv.reader(io.StringIO(a))), list(csv.reader(io.StringIO(b)))
    if not ra or not rb or ra[0] != rb[0]:
        f.problems.append(f"header {ra[:1]} locked, {rb[:1]} rerun")
        return
    if len(ra) != len(rb):
        f.problems.append(f"{len(ra) - 1} rows locked, {len(rb) - 1} rerun")
    header = ra[0]
    for line, (x, y) in enumerate(zip(ra[1:], rb[1:], strict=False), start=2):
        for col, va, vb in zip(header, x, y, strict=False):
            if VOLATILE.search(col.lower()):
                f.count("volatile (not compared)")
            elif va == vb:
                f.count("exact")
            elif _float(va) is not None and _float(vb) is not None:
                f.numeric(f"line {line} {col}", _float(va), _float(vb), tol)
            else:
                f.count("exact")
                f.problems.append(f"line {line} {col}: {va!r} locked, {vb!r} rerun")


def _float(s: str) -> float | None:
    try:
        return float(s)
    except ValueError:
        return None
