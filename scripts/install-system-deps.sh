#!/usr/bin/env bash
# System packages the test suite drives: Debian's Chromium for the web UI test (playwright never
# downloads a browser here). PostgreSQL comes from the pgserver wheel, so it needs nothing here.
# Idempotent; does nothing when Chromium is already installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: chromium is missing and this is not a root Debian shell;" >&2
    echo "  install it yourself (apt-get install chromium) or the browser test will be skipped" >&2
    exit 0
fi
echo "install-system-deps: installing chromium (Debian package) for the web UI test"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
apt-get install -y -qq chromium >/dev/null
