#!/usr/bin/env bash
# The engine benchmark (issue 2): wall times of `pipe` on paper-shaped
# pipelines of trivial `cmd` stages with 37 and 2,013 stages.
#   - full first run (empty cache)
#   - no-op `pipe run` and `pipe status` (median of RUNS runs)
# Targets: no-op <= 20 ms at 37 stages, <= 150 ms at 2,013; first run of
# 2,013 stages <= 15 s on 2 cores. Builds the release binary without the
# `torch` feature (the engine does not need libtorch). Not a test.
# Usage: benches/engine.sh   (env RUNS=N, SIZES="12 1000", PIPE_BIN=path to
# an already built binary; the build goes to target/bench-engine so that it
# does not replace the default-featured target/release/pipe).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-11}
sizes=${SIZES:-"12 1000"}
pipe=$("$root/benches/pipe-bin.sh")
work=$(mktemp -d /tmp/pipe-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

ms() { echo "scale=1; ($2 - $1) / 1000000" | bc; }

# Median wall time in ms of RUNS runs of "$@".
median() {
    local times=()
    for _ in $(seq "$runs"); do
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>&1 || true
        t1=$(date +%s%N)
        times+=("$(ms "$t0" "$t1")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

echo "binary: $pipe; $(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-14s %-16s %-18s %s\n' stages "first run (s)" "no-op run (ms)" "no-op status (ms)" "first run CPU (user+sys s)"
for n in $sizes; do
    dir="$work/n$n"
    mkdir -p "$dir"
    "$root/benches/gen-pipeline.sh" "$n" > "$dir/paper.yaml"
    stages=$((13 + 2 * n))
    cd "$dir"
    t0=$(date +%s%N)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -o "$dir/cpu" -f '%U %S' "$pipe" run paper.yaml --quiet 2>/dev/null
        cpu=$(awk '{print $1 + $2}' "$dir/cpu")
    else
        "$pipe" run paper.yaml --quiet 2>/dev/null
        cpu=n/a
    fi
    t1=$(date +%s%N)
    first=$(echo "scale=2; ($t1 - $t0) / 1000000000" | bc)
    # The run must be complete, or the no-op timings mean nothing.
    "$pipe" status paper.yaml >/dev/null
    noop=$(median "$pipe" run paper.yaml --quiet)
    status=$(median "$pipe" status paper.yaml)
    printf '%-8s %-14s %-16s %-18s %s\n' "$stages" "$first" "$noop" "$status" "$cpu"
    cd "$root"
done
