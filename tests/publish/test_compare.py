"""The three comparison classes of `olmospec verify` (olmospec/compare.py) on real files of each kind:
each mismatch names the file and the place and says how large the difference is; volatile fields
(time, speed, host) never count; scores pass within k standard errors and fail beyond."""

import json
import math
import struct

import numpy as np
import pytest

from olmospec.compare import Tolerance, compare_file, file_class

TOL = Tolerance(atol=1e-5, rtol=1e-4, k=3.0)


def _cmp(tmp_path, rel, a: bytes, b: bytes, tol=TOL):
    (tmp_path / "a").write_bytes(a)
    (tmp_path / "b").write_bytes(b)
    return compare_file(rel, tmp_path / "a", tmp_path / "b", tol)


def _safetensors(tensors: dict[str, np.ndarray], bf16: set[str] = frozenset()) -> bytes:
    """The documented layout, written by hand (bfloat16 = the top 16 bits of a float32)."""
    header, body = {}, b""
    for name, x in tensors.items():
        if name in bf16:
            raw, dtype = (x.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes(), "BF16"
        else:
            raw, dtype = x.astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": dtype, "shape": list(x.shape), "data_offsets": [len(body), len(body) + len(raw)]}
        body += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + body


def test_classes_by_name():
    assert file_class("runs/p/hf/model.safetensors") == "numeric"
    assert file_class("runs/p/plots/train.csv") == "numeric"
    assert file_class("runs/r/report/main.csv") == "exact"
    assert file_class("runs/p/metrics.json") == "fields"
    assert file_class("runs/t/shards/tokens.bin") == "exact"
    assert file_class("runs/m/manifest.json") == "exact"


def test_weights_within_tolerance_pass_and_a_changed_weight_is_located(tmp_path):
    rng = np.random.default_rng(0)
    w = {"a.weight": rng.normal(size=(4, 8)).astype(np.float32), "b.bias": rng.normal(size=(8,)).astype(np.float32)}
    near = {k: v + np.float32(1e-7) for k, v in w.items()}
    f = _cmp(tmp_path, "hf/model.safetensors", _safetensors(w), _safetensors(near))
    assert f.ok and f.cls == "numeric" and 0 < f.max_diff < 1e-5, f.problems
    bad = {k: v.copy() for k, v in w.items()}
    bad["a.weight"][2, 5] += 0.25
    f = _cmp(tmp_path, "hf/model.safetensors", _safetensors(w), _safetensors(bad))
    assert not f.ok
    assert len(f.problems) == 1 and "tensor a.weight: 1 of 32 values" in f.problems[0], f.problems
    assert "max |diff| 0.25 at [2, 5]" in f.problems[0]


def test_bfloat16_weights_and_shape_changes(tmp_path):
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(4, 4)
    y = x.copy()
    y[0, 0] = 3.0
    f = _cmp(tmp_path, "m.safetensors", _safetensors({"w": x}, {"w"}), _safetensors({"w": y}, {"w"}))
    assert not f.ok and "max |diff| 4 at [0, 0]" in f.problems[0], f.problems
    f = _cmp(tmp_path, "m.safetensors", _safetensors({"w": x}), _safetensors({"w": x.reshape(2, 8), "v": x}))
    assert any("F32[4, 4] locked, F32[2, 8] rerun" in p for p in f.problems)
    assert any("tensor v: only in the rerun" in p for p in f.problems)


def test_result_fields_numeric_volatile_and_exact(tmp_path):
    a = {"final_loss": 3.146726608276367, "steps": 40, "mean_tokens_per_s": 8428.1, "runtime": {"threads": 1},
         "wall_time_s": 17.8, "host": "vm", "libraries": {"torch": "2.13.0"}}
    b = {**a, "mean_tokens_per_s": 9000.0, "wall_time_s": 12.0, "host": "other", "final_loss": 3.146726608276369}
    f = _cmp(tmp_path, "runs/p/metrics.json", json.dumps(a).encode(), json.dumps(b).encode())
    assert f.ok, f.problems
    assert f.counts["volatile (not compared)"] == 4 and f.counts["numeric"] == 1
    b = {**b, "final_loss": 3.5, "steps": 41}
    f = _cmp(tmp_path, "runs/p/metrics.json", json.dumps(a).encode(), json.dumps(b).encode())
    assert len(f.problems) == 2
    assert f.problems[0].startswith("final_loss: 3.146726608276367 locked, 3.5 rerun: |diff| 0.353")
    assert f.problems[1] == "steps: 40 locked, 41 rerun"


@pytest.mark.parametrize("flip, ok", [(1, True), (60, False)])
def test_scores_pass_within_k_standard_errors(tmp_path, flip, ok):
    """A proportion over n items (eval metrics), a score with its stderr (lm-eval), per-item scores."""
    n = 400
    items = [1.0] * 200 + [0.0] * 200
    rerun = [1.0 - x if i < flip else x for i, x in enumerate(items)]
    p, q = sum(items) / n, sum(rerun) / n
    a = {"tasks": {"math": {"metric": "acc", "value": p, "n": n}},
         "results": {"math": {"acc,none": p, "acc_stderr,none": math.sqrt(p * (1 - p) / n)}},
         "math": {"ids": list(range(n)), "acc": items}}
    b = {"tasks": {"math": {"metric": "acc", "value": q, "n": n}},
         "results": {"math": {"acc,none": q, "acc_stderr,none": math.sqrt(q * (1 - q) / n)}},
         "math": {"ids": list(range(n)), "acc": rerun}}
    f = _cmp(tmp_path, "runs/e/scores.json", json.dumps(a).encode(), json.dumps(b).encode())
    assert f.counts["statistical"] == 3
    assert f.ok == ok, f.problems
    if not ok:  # 60 of 400 items flipped one way: 0.15 apart, 4.34 combined standard errors
        assert len(f.problems) == 3
        assert f.problems[2] == ("tasks.math.value: 0.5 locked, 0.35 rerun: |diff| 0.15 = 4.34 SE > k = 3 "
                                 "(SE 0.025 locked, 0.0238 rerun)"), f.problems


def test_plot_csv_skips_speed_columns(tmp_path):
    a = "step,loss,tokens_per_s,peak_mem_mb\n1,5.77,6507.1,419.9\n2,5.70,6830.0,421.1\n"
    b = "step,loss,tokens_per_s,peak_mem_mb\n1,5.77,100.0,1.0\n2,5.71,6830.0,421.1\n"
    f = _cmp(tmp_path, "runs/p/plots/train.csv", a.encode(), b.encode())
    assert f.problems == ["line 3 loss: 5.7 locked, 5.71 rerun: |diff| 0.01 > atol + rtol*|locked| = 0.00058"]


def test_exact_files_report_lines_and_bytes(tmp_path):
    a = "".join(json.dumps({"id": i, "text": f"doc {i}"}) + "\n" for i in range(10))
    b = a.replace('"doc 7"', '"doc 7!"')
    f = _cmp(tmp_path, "runs/c/docs/part-0.jsonl", a.encode(), b.encode())
    assert f.problems == [('1 of 10 lines differ (10 locked, 10 rerun), first at line 8: '
                          '\'{"id": 7, "text": "doc 7"}\' locked, \'{"id": 7, "text": "doc 7!"}\' rerun')]
    tokens = np.arange(1000, dtype=np.uint16).tobytes()
    bad = bytearray(tokens)
    bad[10] ^= 1
    bad[999] ^= 1
    f = _cmp(tmp_path, "runs/t/shards/tokens.bin", tokens, bytes(bad))
    assert f.problems == ["2 of 2000 bytes differ (sizes 2000 locked, 2000 rerun), first at byte 10"]


def test_log_probs_in_parquet_and_npy(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    def table(logp, ids):
        return pa.table({"id": ids, "ref_chosen_logp": pa.array(logp, pa.float64())})

    pq.write_table(table([-1.5, -2.25, -3.0], ["a", "b", "c"]), tmp_path / "a.parquet")
    pq.write_table(table([-1.5, -2.0, -3.0], ["a", "b", "d"]), tmp_path / "b.parquet")
    f = compare_file("runs/r/pairs.parquet", tmp_path / "a.parquet", tmp_path / "b.parquet", TOL)
    assert f.problems[0] == "column id: 1 of 3 rows differ, first at row 2"
    assert "column ref_chosen_logp: 1 of 3 values beyond" in f.problems[1] and "max |diff| 0.25 at [1]" in f.problems[1]

    import io
    x = np.array([-0.5, -1.0, -2.0])
    ba, bb = io.BytesIO(), io.BytesIO()
    np.save(ba, x)
    np.save(bb, x + 1e-9)
    assert _cmp(tmp_path, "runs/r/logps.npy", ba.getvalue(), bb.getvalue()).ok


def test_publish_and_verify_have_help_and_import_nothing_heavy(root):
    import subprocess
    import sys

    for cmd in ("publish", "verify"):
        r = subprocess.run([sys.executable, "-m", "olmospec.cli", cmd, "--help"], cwd=root, capture_output=True,
                           text=True, check=False)
        assert r.returncode == 0 and "usage: olmospec" in r.stdout, cmd
    code = ("import sys, olmospec.publish, olmospec.verify, olmospec.compare\n"
            "print(sorted(m for m in ('torch', 'numpy', 'pyarrow', 'dvc', 'runners') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_report_csv_is_compared_exactly(tmp_path):
    f = _cmp(tmp_path, "runs/r/report/main.csv", b"variant,mc\nbase,25.0\n", b"variant,mc\nbase,25.00001\n")
    assert f.cls == "exact" and f.problems[0].startswith("1 of 2 lines differ")
