# Sourced by the benchmarks: wall-clock helpers. `runs` must be set.
now() { date +%s%N; }
# Median wall time in ms of $runs runs of "$@" (output discarded).
median() {
    for _ in $(seq "$runs"); do
        local t0
        t0=$(now)
        "$@" >/dev/null 2>&1
        echo $((($(now) - t0) / 1000000))
    done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
