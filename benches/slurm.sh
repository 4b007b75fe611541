#!/usr/bin/env bash
# N trivial stages (default 100) through the local SLURM (scripts/slurm-up.sh),
# side by side in one run: pipe's SLURM client and Snakemake's SLURM executor
# plugin. Reports, for each, the wall time from the first sbatch to the
# client's exit after the last result, and the calls it made on the
# controller, counted by wrapper scripts on PATH that log each call and exec
# the real tool.
#
# The pipe side is the real `pipe run --executor slurm` on a pipeline of one
# `cmd` stage with a matrix of N entries (each job runs `pipe run-job` on the
# node, which stores the result in the cache); its sbatch count includes the
# one job that checks the shared cache dir. SIDE=drive times `slurm-drive`
# (crates/slurm/src/bin: the client alone, jobs running `bash -c`) instead.
# Snakemake (PyPI `snakemake` + `snakemake-executor-plugin-slurm`) is
# installed into its own venv on first use. This cluster has no accounting
# database: Snakemake needs `--slurm-status-command squeue` (`sacct` is on
# PATH but answers "accounting storage is disabled") and `--slurm-no-account`
# (it would otherwise ask sacctmgr for an account), and relies on MinJobAge
# (300 s here) being at least 3 x its first status check (40 s). Not a test.
#
# Usage: benches/slurm.sh   (env N=100; KEEP=1 keeps the work dir; SNAKEMAKE_VENV; PIPE_BIN=path to
# pipe, default target/debug/pipe, which must exist; SIDE=drive with DRIVE_BIN=path to slurm-drive,
# default target/debug/slurm-drive, built if missing; the client's own CPU time is negligible
# next to SLURM's)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-100}
venv=${SNAKEMAKE_VENV:-$HOME/.local/share/pipe/snakemake-venv}
drive=${DRIVE_BIN:-$root/target/debug/slurm-drive}
pipe=${PIPE_BIN:-$root/target/debug/pipe}
side=${SIDE:-pipe}

"$root/scripts/slurm-up.sh" >/dev/null
if [ ! -x "$venv/bin/snakemake" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "snakemake==9.27.1" "snakemake-executor-plugin-slurm==2.8.0"
fi
if [ "$side" = drive ] && [ -z "${DRIVE_BIN:-}" ]; then
    (cd "$root" && cargo build --quiet --locked -p pipe-slurm --bin slurm-drive)
fi
work=$(mktemp -d /tmp/pipe-slurm-bench.XXXXXX)
[ -n "${KEEP:-}" ] && echo "work dir: $work" || trap 'rm -rf "$work"' EXIT

# Wrappers that log "<time> <tool> <args>" to $2 and exec the real tool.
wrap() {
    local dir=$1 log=$2 tool real
    mkdir -p "$dir"
    for tool in sbatch squeue sacct scancel scontrol sinfo sacctmgr sshare; do
        real=$(command -v "$tool") || continue
        printf '#!/bin/sh\necho "$(date +%%s.%%N) %s $*" >> %s\nexec %s "$@"\n' \
            "$tool" "$log" "$real" >"$dir/$tool"
        chmod +x "$dir/$tool"
    done
}
count() { grep -c " $2 " "$1" || true; }
# Seconds from the first sbatch in log $1 to time $2 (ns since the epoch).
since_first_sbatch() {
    awk -v end="$2" '$2 == "sbatch" {print (end / 1e9) - $1; exit}' "$1"
}
report() {
    local name=$1 log=$2 end=$3 total=$4
    printf '%-10s %8.1f s %8.1f s %7s %6s %7s %9s\n' "$name" \
        "$(since_first_sbatch "$log" "$end")" "$total" \
        "$(count "$log" squeue)" "$(count "$log" sacct)" "$(count "$log" sbatch)" \
        "$(($(wc -l <"$log") - $(count "$log" sbatch) - $(count "$log" squeue) - $(count "$log" sacct)))"
}

# pipe: N jobs, each `echo i` into its output.
wrap "$work/pipe-bin" "$work/pipe.calls"
mkdir -p "$work/pipe"
t0=$(date +%s%N)
if [ "$side" = drive ]; then
    PATH="$work/pipe-bin:$PATH" "$drive" --state "$work/pipe/state" --work "$work/pipe" \
        --jobs "$n" --mem 64M --time 10 --name "pipe-bench-$$" \
        --command 'echo "$STAGE" > "out-$STAGE.txt"' >"$work/pipe.out"
    made=$(ls "$work"/pipe/out-*.txt | wc -l)
else
    {
        printf 'version: 1\nresources: {mem: 64M, time: 10}\nstages:\n  one:\n    kind: cmd\n'
        printf '    matrix:\n      i: [%s]\n' "$(seq -s, 0 $((n - 1)))"
        printf '    params: {run: "echo ${matrix.i} > $PIPE_OUT/out.txt"}\n'
    } >"$work/pipe/bench.yaml"
    (cd "$work/pipe" && PATH="$work/pipe-bin:$PATH" "$pipe" run bench.yaml --executor slurm \
        --cache-dir "$work/pipe/cache" >"$work/pipe.out" 2>&1) || { tail -30 "$work/pipe.out" >&2; exit 1; }
    made=$(ls "$work"/pipe/results/bench/*/out.txt | wc -l)
fi
t1=$(date +%s%N)
[ "$made" = "$n" ] || { echo "error: pipe made too few outputs" >&2; exit 1; }

# Snakemake: the same N jobs as one rule over a wildcard.
wrap "$work/smk-bin" "$work/smk.calls"
mkdir -p "$work/smk"
cat >"$work/smk/Snakefile" <<SMK
rule all:
    input: expand("out/{i}.txt", i=range($n))
rule one:
    output: "out/{i}.txt"
    shell: "echo {wildcards.i} > {output}"
SMK
s0=$(date +%s%N)
(cd "$work/smk" && PATH="$work/smk-bin:$venv/bin:$PATH" snakemake --executor slurm \
    --jobs "$n" --default-resources mem_mb=64 runtime=10 slurm_partition=debug \
    --slurm-no-account --slurm-status-command squeue --latency-wait 60 \
    >"$work/smk.out" 2>&1) || { tail -30 "$work/smk.out" >&2; exit 1; }
s1=$(date +%s%N)
[ "$(ls "$work"/smk/out/*.txt | wc -l)" = "$n" ] || { echo "error: snakemake made too few outputs" >&2; exit 1; }

echo "$n trivial stages through the local SLURM ($(sinfo -h -o '%c CPUs, %G' | head -1))"
printf '%-10s %10s %10s %7s %6s %7s %9s\n' tool "sbatch->end" "total" squeue sacct sbatch "other"
report pipe "$work/pipe.calls" "$t1" "$(echo "($t1 - $t0) / 1000000000" | bc -l)"
report snakemake "$work/smk.calls" "$s1" "$(echo "($s1 - $s0) / 1000000000" | bc -l)"
echo "(other: controller calls besides sbatch/squeue/sacct: scancel, scontrol, sinfo, sacctmgr)"
