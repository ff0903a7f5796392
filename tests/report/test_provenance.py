"""The report's provenance names each data manifest by its manifest.json, not by a run's receipt."""

from __future__ import annotations

import yaml

from olmospec.provenance import provenance


def _write_lock(root, receipt_md5: str) -> None:
    outs = [{"path": "runs/manifest-web-1/manifest.json", "md5": "f" * 32},
            {"path": "runs/manifest-web-1/metrics.json", "md5": "b" * 32},
            {"path": "runs/manifest-web-1/receipt.json", "md5": receipt_md5}]
    (root / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"manifest-web-1": {"outs": outs}}}))


def test_two_runs_of_the_same_data_name_the_same_manifest(tmp_path):
    cfg = {"rows": [], "spec": None}
    _write_lock(tmp_path, "0" * 32)  # a receipt whose hash sorts first
    first = provenance(cfg, tmp_path)["data_manifests"]
    _write_lock(tmp_path, "c" * 32)  # the same data, another run's timings
    assert first == provenance(cfg, tmp_path)["data_manifests"] == {"manifest-web-1": "f" * 12}
