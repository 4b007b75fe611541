#!/usr/bin/env bash
# Sets up everything `pipe` needs on a fresh Debian machine, idempotently:
#   - a Python virtualenv with PyPI's torch 2.11.0 (its libtorch is what tch
#     0.24 links against) and torchvision 0.26.0 (used only by the tests to
#     make reference outputs; pipe itself never calls Python);
#   - a release build of `pipe` linked to that libtorch (rpath set).
# Re-running it is cheap: an existing venv with the right versions is reused.
#
# Usage: scripts/setup.sh [--no-build]   (--no-build: only the venv)
#
# Environment:
#   PIPE_VENV   where the venv lives (default ~/.local/share/pipe/torch-venv,
#               outside the checkout so that fresh clones and CI reuse it)
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
TORCHVISION_VERSION=0.26.0
VENV=${PIPE_VENV:-$HOME/.local/share/pipe/torch-venv}

# Bold only on a terminal: logs of CI and `| tee` get plain text.
if [ -t 2 ] && [ -z "${NO_COLOR:-}" ]; then
  log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
else
  log() { printf '==> %s\n' "$*" >&2; }
fi
SECONDS=0

need_apt=()
command -v cc >/dev/null || need_apt+=(build-essential)
command -v readelf >/dev/null || need_apt+=(binutils)
command -v python3 >/dev/null || need_apt+=(python3 python3-venv)
if ((${#need_apt[@]})); then
  log "installing ${need_apt[*]} with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi
if ! command -v cargo >/dev/null; then
  echo "error: cargo not found; install Rust from your distribution or rustup first" >&2
  exit 3
fi

have_versions() {
  "$VENV/bin/python" - <<PY 2>/dev/null
import torch, torchvision, numpy, safetensors
assert torch.__version__.split('+')[0] == "$TORCH_VERSION", torch.__version__
assert torchvision.__version__.split('+')[0] == "$TORCHVISION_VERSION", torchvision.__version__
PY
}

if ! have_versions; then
  log "installing torch $TORCH_VERSION and torchvision $TORCHVISION_VERSION into $VENV (about 4.7 GB download and disk; 3-10 minutes)"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  # pip's own progress: one line per package, bars only on a terminal.
  progress=off
  [ -t 1 ] && progress=on
  "$VENV/bin/pip" install --progress-bar "$progress" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" numpy safetensors
  have_versions || { echo "error: torch $TORCH_VERSION did not install into $VENV" >&2; exit 3; }
fi

[ "${1:-}" = "--no-build" ] && exit 0

# tch's build script asks this python where libtorch is.
export PATH="$VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1
log "building pipe (release; the first build compiles libtorch's C++ bindings: 5-15 minutes, about 2 GB in target/)"
# cargo prints a line per crate it compiles (its bar only on a terminal).
cargo build --release --locked
log "ready: target/release/pipe (setup took $((SECONDS / 60)) min $((SECONDS % 60)) s)"
