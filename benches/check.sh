#!/usr/bin/env bash
# `pipe check` on large pipeline files (issue 10, F9): wall time and peak
# memory at 10,000 and 100,000 stages side by side, in two shapes:
#   - flat:   N stages written out in one `stages:` mapping (each reading
#             the one before), the shape whose duplicate-key scan was
#             O(N^2) (40k stages 23 s, 80k 280 s);
#   - matrix: benches/gen-pipeline.sh (13 + 2T stages from two T-entry
#             matrices, globs and per-entry references).
# The 10,000-stage row is the reference: linear work makes the 100,000 row
# about ten times it. Target: under 2 s at 100,000 stages. Builds the
# release binary without the `torch` feature (as benches/engine.sh). Not a
# test. Usage: benches/check.sh   (env RUNS=3, SIZES="10000 100000",
# PIPE_BIN=path to an already built binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
sizes=${SIZES:-"10000 100000"}
if [ -n "${PIPE_BIN:-}" ]; then
    pipe=$(realpath "$PIPE_BIN")
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target/bench-engine}
    cargo build --release --no-default-features --manifest-path "$root/Cargo.toml" --bin pipe >&2
    pipe="$CARGO_TARGET_DIR/release/pipe"
fi
work=$(mktemp -d /tmp/pipe-check-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

# N stages in one mapping, each an input of the next.
flat() {
    echo "version: 1"
    echo "stages:"
    awk -v n="$1" 'BEGIN {
        print "  s0: {kind: cmd, params: {run: \"echo 0 > $PIPE_OUT/o\"}}"
        for (i = 1; i < n; i++)
            printf "  s%d: {kind: cmd, inputs: {prev: s%d}, params: {run: \"echo %d > $PIPE_OUT/o\"}}\n", i, i - 1, i
    }'
}

# Median wall time (s) and the largest peak RSS (MiB) of RUNS checks of $1.
measure() {
    local times=() peak=0
    for _ in $(seq "$runs"); do
        /usr/bin/time -o "$work/time" -f '%e %M' "$pipe" check "$1" >/dev/null
        read -r t kb < "$work/time"
        times+=("$t")
        [ "$kb" -gt "$peak" ] && peak=$kb
    done
    local median
    median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    echo "$median $((peak / 1024))"
}

echo "binary: $pipe; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-8s %-10s %-12s %s\n' shape stages "size (KB)" "check (s)" "peak RSS (MiB)"
for n in $sizes; do
    flat "$n" > "$work/flat$n.yaml"
    read -r t mem < <(measure "$work/flat$n.yaml")
    printf '%-8s %-8s %-10s %-12s %s\n' flat "$n" "$(( $(stat -c %s "$work/flat$n.yaml") / 1024 ))" "$t" "$mem"
    trains=$(( (n - 13) / 2 ))
    "$root/benches/gen-pipeline.sh" "$trains" > "$work/matrix$n.yaml"
    read -r t mem < <(measure "$work/matrix$n.yaml")
    printf '%-8s %-8s %-10s %-12s %s\n' matrix "$((13 + 2 * trains))" "$(( $(stat -c %s "$work/matrix$n.yaml") / 1024 ))" "$t" "$mem"
done
