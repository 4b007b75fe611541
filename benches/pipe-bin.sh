#!/usr/bin/env bash
# Prints the path of the `pipe` binary a benchmark times: $PIPE_BIN if set,
# else a release build without the `torch` feature (the engine does not need
# libtorch), built first into target/bench-engine so that it does not
# replace the default-featured target/release/pipe.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${PIPE_BIN:-}" ]; then
    realpath "$PIPE_BIN"
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/bench-engine}
    cargo build --release --no-default-features --manifest-path "$root/Cargo.toml" --bin pipe >&2
    echo "$CARGO_TARGET_DIR/release/pipe"
fi
