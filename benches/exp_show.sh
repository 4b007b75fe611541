#!/usr/bin/env bash
# `pipe exp show` on a synthetic cache of RESULTS results (default 2,000):
# STAGES matrix stages of `cmd` kind, each writing a 20-epoch metrics.csv,
# run with SETS different `--set lr=` values, so the cache holds
# STAGES x SETS results of one pipeline file. Measured against, in the same
# run: `pipe status` on the same file (reads the state and the current
# manifests), and `cat` of every manifest (the bytes exp show must read at
# least). Medians of RUNS runs, in ms. Optionally also times exp show on the
# quick pipeline's cache (QUICK_CACHE=path/to/cache, QUICK_FILE). Not a test.
# Usage: benches/exp_show.sh  (env STAGES=400 SETS=5 RUNS=5 PIPE_BIN)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
stages=${STAGES:-400}
sets=${SETS:-5}
runs=${RUNS:-5}
pipe=$(realpath "${PIPE_BIN:-$root/target/release/pipe}")
work=$(mktemp -d /tmp/pipe-exp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

. "$root/benches/timing.sh"

cd "$work"
{
    echo "version: 1"
    echo "params: {lr: 0.1}"
    echo "stages:"
    echo "  train:"
    echo "    kind: cmd"
    printf "    matrix: {i: [%s]}\n" "$(seq -s ', ' 1 "$stages")"
    echo "    params:"
    # 20 epochs whose losses depend on i and lr: awk, one process per stage.
    echo "      run: awk -v i=\${matrix.i} -v lr=\${params.lr} 'BEGIN { print \"epoch,train_loss,train_acc,test_loss,test_acc\"; for (e = 1; e <= 20; e++) printf \"%d,%f,%f,%f,%f\\n\", e, 2/(e*lr*10+i/100), e/25, 2/(e*lr*5+i/100)+e/50, e/22 }' > \$PIPE_OUT/metrics.csv"
    echo "      outs: [metrics.csv]"
} > p.yaml
t0=$(now)
for k in $(seq "$sets"); do
    "$pipe" run p.yaml -q --set "lr=0.0$k" >/dev/null
done
echo "made $((stages * sets)) results in $((($(now) - t0) / 1000000)) ms"
results=$(ls cache/keys | wc -l)
rows=$("$pipe" exp show p.yaml --csv | tail -n +2 | wc -l)
echo "cache: $results manifests; exp show lists $rows rows"
echo "exp show (text):      $(median "$pipe" exp show p.yaml) ms"
echo "exp show --json:      $(median "$pipe" exp show p.yaml --json) ms"
echo "exp diff:             $(median "$pipe" exp diff p.yaml) ms"
echo "reference: status:    $(median "$pipe" status p.yaml) ms"
echo "reference: cat keys:  $(median sh -c 'cat cache/keys/*.json') ms"
if [ -n "${QUICK_CACHE:-}" ]; then
    file=${QUICK_FILE:-$root/pipelines/quick.yaml}
    echo "quick cache: $(ls "$QUICK_CACHE/keys" | wc -l) manifests"
    echo "quick exp show:       $(median "$pipe" exp show "$file" --cache-dir "$QUICK_CACHE") ms"
    echo "quick status (ref):   $(median "$pipe" status "$file" --cache-dir "$QUICK_CACHE") ms"
fi
