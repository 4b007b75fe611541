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
# PIPE_BIN=path to an already built binary; REF_BIN=another binary, e.g.
# one built from `main`, timed on the flat files of at most REF_MAX=20000
# stages, since it may be quadratic)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
sizes=${SIZES:-"10000 100000"}
pipe=$("$root/benches/pipe-bin.sh")
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

# Median wall time (s), median CPU time (user + sys, s) and the largest
# peak RSS (MiB) of RUNS checks of $1. On a loaded machine the CPU time is
# the steadier figure.
measure() {
    local times=() cpus=() peak=0
    for _ in $(seq "$runs"); do
        /usr/bin/time -o "$work/time" -f '%e %U %S %M' "$pipe" check "$1" >/dev/null
        read -r t user sys kb < "$work/time"
        times+=("$t")
        cpus+=("$(echo "$user + $sys" | bc)")
        [ "$kb" -gt "$peak" ] && peak=$kb
    done
    echo "$(median "${times[@]}") $(median "${cpus[@]}") $((peak / 1024))"
}

median() {
    printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "binary: $pipe; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
row() { printf '%-8s %-8s %-10s %-10s %-10s %s\n' "$@"; }
row shape stages "size (KB)" "wall (s)" "CPU (s)" "peak RSS (MiB)"
for n in $sizes; do
    flat "$n" > "$work/flat$n.yaml"
    read -r t cpu mem < <(measure "$work/flat$n.yaml")
    row flat "$n" "$(( $(stat -c %s "$work/flat$n.yaml") / 1024 ))" "$t" "$cpu" "$mem"
    trains=$(( (n - 13) / 2 ))
    "$root/benches/gen-pipeline.sh" "$trains" > "$work/matrix$n.yaml"
    read -r t cpu mem < <(measure "$work/matrix$n.yaml")
    row matrix "$((13 + 2 * trains))" "$(( $(stat -c %s "$work/matrix$n.yaml") / 1024 ))" "$t" "$cpu" "$mem"
done
if [ -n "${REF_BIN:-}" ]; then
    pipe=$(realpath "$REF_BIN")
    echo "reference: $pipe"
    for n in $sizes; do
        [ "$n" -le "${REF_MAX:-20000}" ] || continue
        read -r t cpu mem < <(measure "$work/flat$n.yaml")
        row flat "$n" "$(( $(stat -c %s "$work/flat$n.yaml") / 1024 ))" "$t" "$cpu" "$mem"
    done
fi
