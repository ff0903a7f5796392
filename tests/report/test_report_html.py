"""The HTML report opened in headless Chromium (Debian's `chromium`): its tables and plots render, and
a screenshot is kept as a test artifact (in $OLMOSPEC_TEST_ARTIFACTS, default .test-artifacts/).

Chromium is installed by `scripts/install_chromium.sh` (CI runs it); where it is absent this test is
skipped, saying so."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from synthetic import report_config

from olmospec.report import write_report

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed "
                                "(run scripts/install_chromium.sh, as CI does)")


def _chromium(*args: str) -> subprocess.CompletedProcess:
    # NOTE: --no-sandbox because tests run as root here; the page is a local file we just wrote
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_html_report_renders_tables_and_plots_in_headless_chromium(tmp_path):
    cfg = report_config(tmp_path, {"base": [0.40, 0.46, 0.52], "close": [0.41, 0.53, 0.47],
                                   "far": [0.80, 0.82, 0.79]}, contaminated="far", ruler=True)
    page = write_report(cfg, tmp_path, tmp_path / "report", ["html"])["html"]
    text = page.read_text()
    assert "http://" not in text and "https://" not in text, "the page must be self-contained"
    assert text.count("data:image/png;base64,") == 2  # the RULER and delta plots (no training curves here)

    dom = _chromium("--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert 'data-rendered="yes"' in dom.stdout, "every embedded plot decoded"
    assert dom.stdout.count("<tr>") == 4  # header + three variants
    assert "78.3 ± 2.3†" in dom.stdout and "≈" in dom.stdout

    artifacts = Path(os.environ.get("OLMOSPEC_TEST_ARTIFACTS", ROOT / ".test-artifacts"))
    artifacts.mkdir(parents=True, exist_ok=True)
    shot = artifacts / "report_html.png"
    r = _chromium("--window-size=1200,1400", f"--screenshot={shot}", page.as_uri())
    assert r.returncode == 0 and shot.exists(), r.stderr[-2000:]
    assert _png_size(shot) == (1200, 1400)
    assert shot.stat().st_size > 30_000, "a blank page compresses to a few KB; tables and plots do not"
