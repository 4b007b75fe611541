#!/usr/bin/env bash
# The engine against DVC in the same run, on the same paper-shaped pipeline
# of trivial shell stages (benches/gen-pipeline.sh for pipe, the same graph
# as a dvc.yaml for DVC): first run, no-op run (`pipe run` / `dvc repro`)
# and no-op status (`pipe status` / `dvc status`), medians of RUNS runs.
# Installs DVC into its own venv on first use (PyPI). Not a test.
# Usage: benches/engine_dvc.sh   (env N=12 trains, i.e. 13 + 2N stages;
# RUNS=5; PIPE_BIN=path to pipe, default target/release/pipe; DVC_VENV)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${N:-12}
runs=${RUNS:-5}
pipe=$(realpath "${PIPE_BIN:-$root/target/release/pipe}")
venv=${DVC_VENV:-$HOME/.local/share/pipe/dvc-venv}
if [ ! -x "$venv/bin/dvc" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet dvc
fi
dvc="$venv/bin/dvc"
work=$(mktemp -d /tmp/pipe-dvc-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

. "$root/benches/timing.sh"
first() {
    local t0
    t0=$(now)
    "$@" >/dev/null 2>&1
    echo "scale=2; ($(now) - $t0) / 1000000000" | bc
}

# The same DAG as gen-pipeline.sh, as DVC stages with directory outputs.
gen_dvc() {
    local seeds figures="accuracy loss confusion timing memory" augs="flip crop color none"
    seeds=$(seq -s ', ' 0 $((n - 1)))
    local aug_deps eval_deps plot_deps
    aug_deps=$(for a in $augs; do printf ' o/augment-%s' "$a"; done)
    eval_deps=$(for i in $(seq 0 $((n - 1))); do printf ' o/evaluate-%s' "$i"; done)
    plot_deps=$(for f in $figures; do printf ' o/plot-%s' "$f"; done)
    list() { echo "[$(echo "$1" | xargs | sed 's/ /, /g')]"; }
    cat <<YAML
stages:
  download:
    cmd: mkdir -p o/download && echo archive > o/download/o
    outs: [o/download]
  decode:
    cmd: mkdir -p o/decode && cat o/download/o > o/decode/o && echo decoded >> o/decode/o
    deps: [o/download]
    outs: [o/decode]
  resize:
    cmd: mkdir -p o/resize && cat o/decode/o > o/resize/o && echo resized >> o/resize/o
    deps: [o/decode]
    outs: [o/resize]
  augment:
    foreach: $(list "$augs")
    do:
      cmd: mkdir -p o/augment-\${item} && echo \${item} > o/augment-\${item}/o
      deps: [o/resize]
      outs: ["o/augment-\${item}"]
  train:
    foreach: [$seeds]
    do:
      cmd: mkdir -p o/train-\${item} && echo model \${item} > o/train-\${item}/o
      deps: $(list "$aug_deps")
      outs: ["o/train-\${item}"]
  evaluate:
    foreach: [$seeds]
    do:
      cmd: mkdir -p o/evaluate-\${item} && echo score \${item} > o/evaluate-\${item}/o
      deps: ["o/train-\${item}"]
      outs: ["o/evaluate-\${item}"]
  plot:
    foreach: $(list "$figures")
    do:
      cmd: mkdir -p o/plot-\${item} && echo \${item} > o/plot-\${item}/o
      deps: $(list "$eval_deps")
      outs: ["o/plot-\${item}"]
  report:
    cmd: mkdir -p o/report && echo report > o/report/o
    deps: $(list "$plot_deps")
    outs: [o/report]
YAML
}

mkdir -p "$work/pipe" "$work/dvc"
"$root/benches/gen-pipeline.sh" "$n" > "$work/pipe/paper.yaml"
(cd "$work/dvc" && git init -q && "$dvc" init -q && gen_dvc > dvc.yaml)
stages=$((13 + 2 * n))

cd "$work/pipe"
p_first=$(first "$pipe" run paper.yaml --quiet)
"$pipe" status paper.yaml >/dev/null # complete, or the no-op timings mean nothing
p_noop=$(median "$pipe" run paper.yaml --quiet)
p_status=$(median "$pipe" status paper.yaml)
cd "$work/dvc"
d_first=$(first "$dvc" repro)
"$dvc" status | grep -q "up to date" # complete, likewise
d_noop=$(median "$dvc" repro)
d_status=$(median "$dvc" status)

echo "$stages stages; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); $("$dvc" --version | head -1 | sed 's/^/dvc /')"
printf '%-20s %12s %12s %8s\n' "" pipe dvc "dvc/pipe"
row() { printf '%-20s %12s %12s %8s\n' "$1" "$2" "$3" "$(echo "scale=1; $3 / $2" | bc)"; }
row "first run (s)" "$p_first" "$d_first"
row "no-op run (ms)" "$p_noop" "$d_noop"
row "no-op status (ms)" "$p_status" "$d_status"
