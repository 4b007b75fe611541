#!/usr/bin/env bash
# Runs every test of `pipe`, from a fresh clone: sets up the torch venv if
# needed (scripts/setup.sh) and moto, the S3 server of the remote-cache
# tests (scripts/moto-venv.sh), generates the reference fixtures with PyTorch
# and torchvision (scripts/make-fixtures.sh), then lints and runs the whole
# test suite. Needs no GPU and no network beyond the package registries.
# As root it also starts the one-node SLURM the SLURM client's tests run on
# (scripts/slurm-up.sh, idempotent); elsewhere those tests skip with a note
# unless CI=true, where they fail.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${PIPE_VENV:-$HOME/.local/share/pipe/torch-venv}
scripts/setup.sh --no-build
# Before the torch venv goes first on PATH: the remote-cache tests' S3
# server (moto), from the system Python or its own venv.
PIPE_MOTO_PYTHON=$(scripts/moto-venv.sh)
export PIPE_MOTO_PYTHON
export PATH="$VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1 PIPE_PYTHON="$VENV/bin/python"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

if [ "$(id -u)" = 0 ]; then
  step "starting the local one-node SLURM"
  scripts/slurm-up.sh
fi

step "generating test fixtures with torch/torchvision"
scripts/make-fixtures.sh

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked --quiet -- -D warnings

step "the engine builds and tests without libtorch"
cargo test --locked --quiet -p pipe-engine -p pipe-data -p pipe-report -p pipe-torch-spec

step 'cargo test (whole workspace with libtorch; includes pipe check pipelines/*.yaml)'
cargo test --workspace --locked --no-fail-fast
