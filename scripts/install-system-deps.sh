#!/usr/bin/env bash
# System packages ragline and its test suite use: Tesseract OCR (tesseract-ocr, English data) for
# scanned PDF pages, Debian's Chromium for the web UI test (playwright never downloads a browser
# here) and redis-server for the Redis cache and limiter backends' tests. PostgreSQL comes from the
# pgserver wheel, so it needs nothing here. Idempotent; installs only what is missing.
set -euo pipefail
missing=()
command -v tesseract >/dev/null 2>&1 || missing+=(tesseract-ocr tesseract-ocr-eng)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-system-deps: ${missing[*]} missing and this is not a root Debian shell;" >&2
    echo "  install them yourself (apt-get install ${missing[*]}); the OCR, browser and Redis tests" >&2
    echo "  are skipped without them" >&2
    exit 0
fi
echo "install-system-deps: installing ${missing[*]} (Debian packages)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null || true
apt-get install -y -qq "${missing[@]}" >/dev/null
