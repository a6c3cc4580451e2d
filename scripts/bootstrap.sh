#!/usr/bin/env bash
# Create .venv with the machine's Python 3.11 and install the locked dependencies
# (requirements-dev.lock: the application's requirements.lock plus test and lint tools).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
  echo "PRM needs Python 3.11 as 'python3' (found: $("$PYTHON" --version 2>&1))." >&2
  echo "Install it (Debian: apt-get install python3.11 python3.11-venv) or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat requirements.lock requirements-dev.lock | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r requirements-dev.lock
  rm -f .venv/.installed-*
  touch "$stamp"
fi
