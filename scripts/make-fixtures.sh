#!/usr/bin/env bash
# Generates the reference fixtures the tests compare against (torchvision's
# resize output, PyTorch checkpoints and logits, ...) into
# tests/fixtures/generated/. Each generator is skipped when its output is
# newer than the script that makes it.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PIPE_PYTHON:-${PIPE_VENV:-$HOME/.local/share/pipe/torch-venv}/bin/python}
OUT=tests/fixtures/generated
mkdir -p "$OUT"
for gen in scripts/fixtures/*.py; do
  name=$(basename "$gen" .py)
  stamp="$OUT/.$name.done"
  if [ -f "$stamp" ] && [ "$stamp" -nt "$gen" ]; then
    continue
  fi
  echo "fixtures: $name" >&2
  "$PY" "$gen" "$OUT"
  touch "$stamp"
done
