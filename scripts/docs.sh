#!/usr/bin/env bash
# Build the docs site with warnings as errors (CI calls this). Output: docs/_build/html.
set -euo pipefail
SRC="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m sphinx -W --keep-going -n -b html "$SRC/docs" "$SRC/docs/_build/html" "$@"
