"""Numeric comparison of array files for `olmospec verify` (see olmospec/compare.py for the classes):
safetensors weights, .npy arrays and parquet tables, each reduced to the size of its worst difference.

safetensors is read from its documented layout (8-byte little-endian header length, a JSON header of
`{name: {dtype, shape, data_offsets}}`, then the raw bytes), so no torch and any dtype, bfloat16
included (its bits are the top half of a float32). numpy is imported here, where it is used.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from olmospec.compare import Finding, Tolerance

_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
           "U8": "u1", "U16": "<u2", "U32": "<u4", "U64": "<u8", "BOOL": "?"}


def _tensors(data: bytes) -> dict[str, tuple[str, list[int], bytes]]:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n:]
    return {k: (v["dtype"], v["shape"], body[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in header.items()}


def _array(dtype: str, shape: list[int], raw: bytes):
    import numpy as np

    if dtype == "BF16":
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32).reshape(shape)
    if dtype not in _DTYPES:
        raise ValueError(f"dtype {dtype}")
    return np.frombuffer(raw, _DTYPES[dtype]).reshape(shape)


def safetensors(a: bytes, b: bytes, f: Finding, tol: Tolerance) -> None:
    ta, tb = _tensors(a), _tensors(b)
    for name in sorted(set(ta) ^ set(tb)):
        f.problems.append(f"tensor {name}: only in the {'locked output' if name in ta else 'rerun'}")
    for name in sorted(set(ta) & set(tb)):
        (da, sa, ra), (db, sb, rb) = ta[name], tb[name]
        if (da, sa) != (db, sb):
            f.problems.append(f"tensor {name}: {da}{sa} locked, {db}{sb} rerun")
            continue
        _arrays(f"tensor {name}", _array(da, sa, ra), _array(db, sb, rb), f, tol)


def npy(a: bytes, b: bytes, f: Finding, tol: Tolerance) -> None:
    import io

    import numpy as np

    x, y = np.load(io.BytesIO(a), allow_pickle=False), np.load(io.BytesIO(b), allow_pickle=False)
    if (x.dtype, x.shape) != (y.dtype, y.shape):
        f.problems.append(f"array: {x.dtype}{list(x.shape)} locked, {y.dtype}{list(y.shape)} rerun")
        return
    _arrays("array", x, y, f, tol)


def parquet(a: Path, b: Path, f: Finding, tol: Tolerance) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    x, y = pq.read_table(a), pq.read_table(b)
    if x.schema != y.schema or x.num_rows != y.num_rows:
        f.problems.append(f"table: {x.num_rows} rows {x.schema.names} locked, {y.num_rows} rows {y.schema.names} rerun")
        return
    for col in x.schema.names:
        ca, cb = x.column(col), y.column(col)
        if pa.types.is_floating(ca.type):
            _arrays(f"column {col}", ca.to_numpy(), cb.to_numpy(), f, tol)
        else:
            f.count("exact")
            if not ca.equals(cb):
                rows = [i for i, (u, v) in enumerate(zip(ca.to_pylist(), cb.to_pylist(), strict=True)) if u != v]
                f.problems.append(f"column {col}: {len(rows)} of {x.num_rows} rows differ, first at row {rows[0]}")


def _arrays(where: str, x, y, f: Finding, tol: Tolerance) -> None:
    import numpy as np

    if x.dtype.kind not in "fc":
        f.count("exact")
        if not np.array_equal(x, y):
            n = int(np.count_nonzero(x != y))
            f.problems.append(f"{where}: {n} of {x.size} values differ")
        return
    f.count("numeric")
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(x64 - y64)
        d[np.isnan(x64) & np.isnan(y64)] = 0.0
        bad = ~(d <= tol.atol + tol.rtol * np.abs(x64))
    worst = float(np.nanmax(d)) if d.size and not np.isnan(d).all() else 0.0
    if np.isnan(d).any():
        worst = float("inf")
    f.max_diff = max(f.max_diff, worst)
    if bad.any():
        i = np.unravel_index(int(np.argmax(np.where(np.isnan(d), np.inf, d))), d.shape)
        rel = worst / max(abs(float(x64[i])), 1e-30)
        f.problems.append(f"{where}: {int(bad.sum())} of {d.size} values beyond atol={tol.atol:g} rtol={tol.rtol:g}; "
                          f"max |diff| {worst:.3g} at {list(map(int, i))} ({float(x64[i]):.6g} locked, "
                          f"{float(y64[i]):.6g} rerun, relative {rel:.3g})")
