#!/usr/bin/env bash
# Provides moto_server (PyPI `moto[server]`), the S3-protocol server the
# remote-cache tests (tests/cli/remote.rs) start, one per test. Idempotent:
# prints the Python that has it, installing it into
# ~/.local/share/pipe/moto-venv only when no python3 on PATH has it.
set -euo pipefail
VENV=${PIPE_MOTO_VENV:-$HOME/.local/share/pipe/moto-venv}
has_moto() { "$1" -c 'import moto.server, boto3' 2>/dev/null; }
if [ -x "$VENV/bin/python" ] && has_moto "$VENV/bin/python"; then
  echo "$VENV/bin/python"; exit 0
fi
if command -v python3 >/dev/null && has_moto "$(command -v python3)"; then
  command -v python3; exit 0
fi
python3 -m venv "$VENV" >&2
"$VENV/bin/pip" install --quiet "moto[server]==5.2.1" >&2
echo "$VENV/bin/python"
