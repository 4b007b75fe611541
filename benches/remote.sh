#!/usr/bin/env bash
# The remote cache against DVC's, in one run, side by side, on one local
# S3 server (moto): the same bytes pushed and pulled by `pipe` and by
# `dvc push`/`dvc pull`. A cmd pipeline shaped like pipelines/quick.yaml's
# cache (TRAINS checkpoints of MODEL_KB plus SMALL small results) makes
# the bytes; DVC tracks the very same files. Reported: wall time of a
# first push, a push with nothing new (median of RUNS), and a pull into an
# empty cache (`pipe run --remote`, which also links results/, against
# `dvc pull`, which also checks out), and the bytes each put on the
# server. Installs `dvc[s3]` into its own venv on first use. Not a test.
# Usage: benches/remote.sh  (env TRAINS=13 MODEL_KB=12000 SMALL=32 JOBS=8
# RUNS=5 PIPE_BIN=path to pipe, default target/release/pipe or else
# target/debug/pipe; DVC_VENV; PIPE_MOTO_PYTHON)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
trains=${TRAINS:-13} model_kb=${MODEL_KB:-12000} small=${SMALL:-32}
jobs=${JOBS:-8} runs=${RUNS:-5}
pipe=${PIPE_BIN:-$root/target/release/pipe}
[ -x "$pipe" ] || pipe=$root/target/debug/pipe
pipe=$(realpath "$pipe")
venv=${DVC_VENV:-$HOME/.local/share/pipe/dvc-venv}
if [ ! -x "$venv/bin/dvc" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "dvc[s3]"
fi
dvc="$venv/bin/dvc"
py=${PIPE_MOTO_PYTHON:-$("$root/scripts/moto-venv.sh")}
work=$(mktemp -d /tmp/pipe-remote-bench.XXXXXX)
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$py" -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
ep=http://127.0.0.1:$port
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1
export PIPE_REMOTE=s3://bench/pipe PIPE_REMOTE_ENDPOINT=$ep
until "$py" -c "import boto3; boto3.client('s3', endpoint_url='$ep').create_bucket(Bucket='bench')" 2>/dev/null; do sleep 0.2; done

. "$root/benches/timing.sh"
secs() { # wall seconds of "$@", output discarded
    local t0
    t0=$(now)
    "$@" >/dev/null 2>&1
    echo "scale=3; ($(now) - $t0) / 1000000000" | bc
}
remote_bytes() { # objects and bytes under a prefix of the bucket
    "$py" -c "
import boto3
n = b = 0
for page in boto3.client('s3', endpoint_url='$ep').get_paginator('list_objects_v2').paginate(Bucket='bench', Prefix='$1'):
    for o in page.get('Contents', []): n += 1; b += o['Size']
print(f'{n} objects, {b / 2**20:.1f} MiB')"
}

# The pipeline: checkpoints and small results (metrics, figures).
a=$work/a
mkdir -p "$a"
{
    echo "version: 1"
    echo "stages:"
    echo "  train:"
    echo "    kind: cmd"
    echo "    matrix: {i: [$(seq -s ', ' 1 "$trains")]}"
    echo "    params: {run: 'head -c ${model_kb}000 /dev/urandom > \$PIPE_OUT/model.safetensors; echo \${matrix.i} > \$PIPE_OUT/i'}"
    echo "  small:"
    echo "    kind: cmd"
    echo "    matrix: {i: [$(seq -s ', ' 1 "$small")]}"
    echo "    params: {run: 'head -c 64000 /dev/urandom > \$PIPE_OUT/metrics.csv; echo \${matrix.i} > \$PIPE_OUT/i'}"
} >"$a/bench.yaml"
(cd "$a" && "$pipe" run -q bench.yaml >/dev/null 2>&1)
b=$work/b
mkdir -p "$b" && cp "$a/bench.yaml" "$b/"

# DVC tracks the same files.
d=$work/dvc
mkdir -p "$d/data"
cp -rL "$a/results/bench/." "$d/data/"
(cd "$d" && "$dvc" init --no-scm -q && "$dvc" add -q data \
    && "$dvc" remote add -q -d s3 s3://bench/dvc \
    && "$dvc" remote modify s3 endpointurl "$ep")
d2=$work/dvc2
mkdir -p "$d2"
cp -r "$d/.dvc" "$d/data.dvc" "$d2/" && rm -rf "$d2/.dvc/cache" "$d2/.dvc/tmp"

echo "remote cache, $trains x $model_kb kB + $small x 64 kB, --jobs $jobs, moto at $ep, pipe: $pipe"
printf '%-28s %10s %10s\n' "" "pipe (s)" "dvc (s)"
p=$(cd "$a" && secs "$pipe" push bench.yaml --jobs "$jobs")
v=$(cd "$d" && secs "$dvc" push -j "$jobs")
printf '%-28s %10s %10s\n' "first push" "$p" "$v"
p=$(cd "$a" && median "$pipe" push bench.yaml --jobs "$jobs")
v=$(cd "$d" && median "$dvc" push -j "$jobs")
printf '%-28s %10s %10s\n' "no-change push (median ms)" "$p" "$v"
p=$(cd "$b" && secs "$pipe" run --remote bench.yaml --jobs "$jobs")
v=$(cd "$d2" && secs "$dvc" pull -j "$jobs")
printf '%-28s %10s %10s\n' "pull into an empty cache" "$p" "$v"
(cd "$b" && "$pipe" status bench.yaml >/dev/null) || { echo "pipe: the pulled clone is not up to date" >&2; exit 1; }
cmp -s "$a/results/bench/train[1]/model.safetensors" "$b/results/bench/train[1]/model.safetensors" || { echo "pipe: pulled bytes differ" >&2; exit 1; }
cmp -s "$a/results/bench/train[1]/model.safetensors" "$d2/data/train[1]/model.safetensors" || { echo "dvc: pulled bytes differ" >&2; exit 1; }
echo "on the server: pipe $(remote_bytes pipe/), dvc $(remote_bytes dvc/)"
echo "(pipe's count includes one record per stage under keys/; DVC's one .dir manifest)"
