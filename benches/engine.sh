#!/usr/bin/env bash
# The engine benchmark (issue 2): wall times of `pipe` on paper-shaped
# pipelines of trivial `cmd` stages with 37 and 2,013 stages.
#   - full first run (empty cache)
#   - no-op `pipe run` and `pipe status` (median of RUNS runs)
#   - fan-in (issue 9): one stage reading FANIN (1,000) upstream results,
#     rerun after an edit of only that stage (median of RUNS edits)
# Targets: no-op <= 20 ms at 37 stages, <= 150 ms at 2,013; first run of
# 2,013 stages <= 15 s on 2 cores. Builds the release binary without the
# `torch` feature (the engine does not need libtorch). Not a test.
# Usage: benches/engine.sh   (env RUNS=N, SIZES="12 1000", FANIN=1000,
# PIPE_BIN=path to an already built binary, BASE_BIN=path to a reference
# binary (e.g. the previous commit's), or several separated by spaces,
# measured in the same run, row by row (numbered in that order);
# the build goes to target/bench-engine so that it does not replace the
# default-featured target/release/pipe).
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

# The fan-in pipeline: FANIN sources and one stage given them all, whose
# own command (`v`) the rerun edits. Like the paper's report stage, it reads
# none of them (it counts them), so what is timed is the engine's part.
fanin_pipeline() {
    cat <<YAML
version: 1
stages:
  src:
    kind: cmd
    matrix:
      i: [$(seq -s ', ' 0 $(($1 - 1)))]
    params:
      run: echo \${matrix.i} > \$PIPE_OUT/o
  fanin:
    kind: cmd
    inputs:
      x: "src[*]"
    params:
      run: v=$2; set -- \$PIPE_INPUT_X; echo \$# > \$PIPE_OUT/o
YAML
}

bins=()
for b in ${BASE_BIN:-}; do bins+=("$(realpath "$b")"); done
bins+=("$pipe")
echo "$(nproc) CPUs; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "${bins[@]}"; do echo "binary: $b"; done
printf '%-6s %-8s %-14s %-16s %-18s %s\n' binary stages "first run (s)" "no-op run (ms)" "no-op status (ms)" "first run CPU (user+sys s)"
for n in $sizes; do
    for b in "${!bins[@]}"; do
    pipe=${bins[$b]}
    dir="$work/n$n-$b"
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
    printf '%-6s %-8s %-14s %-16s %-18s %s\n' "$b" "$stages" "$first" "$noop" "$status" "$cpu"
    cd "$root"
    done
done

fanin=${FANIN:-1000}
printf '%-6s %-8s %-14s %s\n' binary inputs "first run (s)" "rerun after editing the fan-in stage (ms)"
for b in "${!bins[@]}"; do
    pipe=${bins[$b]}
    dir="$work/fanin-$b"
    mkdir -p "$dir"
    cd "$dir"
    fanin_pipeline "$fanin" 0 > fanin.yaml
    t0=$(date +%s%N)
    "$pipe" run fanin.yaml --quiet 2>/dev/null
    first=$(echo "scale=2; ($(date +%s%N) - $t0) / 1000000000" | bc)
    times=()
    for i in $(seq "$runs"); do
        fanin_pipeline "$fanin" "$i" > fanin.yaml
        t0=$(date +%s%N)
        "$pipe" run fanin.yaml --quiet >/dev/null 2>&1
        t1=$(date +%s%N)
        times+=("$(ms "$t0" "$t1")")
    done
    # Each edit must have rerun the stage, given every input.
    [ "$(cat results/fanin/fanin/o)" -eq "$fanin" ] || { echo "fan-in stage did not read its inputs" >&2; exit 1; }
    rerun=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    printf '%-6s %-8s %-14s %s\n' "$b" "$fanin" "$first" "$rerun"
    cd "$root"
done
