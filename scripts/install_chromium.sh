#!/usr/bin/env bash
# Headless Chromium for the HTML-report test (tests/report/test_report_html.py), from Debian's
# packages. Needs root and the Debian package index; does nothing when chromium is already there.
# Without it that one test is skipped, with the reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: not root or no apt-get: the HTML report test will be skipped" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q chromium >/dev/null
chromium --version
