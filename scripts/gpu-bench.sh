#!/usr/bin/env bash
# Training-step throughput on a CUDA machine: pipe against PyTorch eager in
# the same run, for resnet50, densenet201 and vit_b_16 at 224x224, batch 50,
# finetune mode, fp32 and bf16 autocast. Prints images/s and the ratio.
#
# Needs no Rust on the GPU machine: build here and carry the binary.
#   cargo build --release --example train_bench      (with the torch venv)
#   scripts/gpu-bench.sh                              (on the GPU machine)
# Environment: PIPE_TRAIN_BENCH (the binary; default
# target/release/examples/train_bench), PIPE_GPU_PYTHON (a python3 with
# torch 2.11 and torchvision; default python3), STEPS (30), WARMUP (5),
# MODELS, AMP. About 3-4 minutes on an H100/H200.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PIPE_GPU_PYTHON:-python3}
BIN=${PIPE_TRAIN_BENCH:-target/release/examples/train_bench}
STEPS=${STEPS:-30}
WARMUP=${WARMUP:-5}
MODELS=${MODELS:-resnet50,densenet201,vit_b_16}
AMP=${AMP:-none,bf16}
# The binary links libtorch dynamically: use the torch of this machine.
TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ARGS=(--models "$MODELS" --modes finetune --amp "$AMP" --batch 50 --size 224
      --steps "$STEPS" --warmup "$WARMUP" --device cuda)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
echo "== pipe (steps $STEPS after $WARMUP warm-up)" >&2
"$BIN" "${ARGS[@]}" | tee "$TMP/pipe.txt"
echo "== PyTorch eager" >&2
"$PY" benches/train_torch.py "${ARGS[@]}" | tee "$TMP/torch.txt"

echo
printf '%-12s %-9s %-5s %10s %10s %7s\n' model mode amp pipe torch ratio
awk 'NR == FNR { t[$2" "$3" "$4] = $5; next }
     { k = $2" "$3" "$4; r = (k in t && t[k] > 0) ? $5 / t[k] : 0;
       printf "%-12s %-9s %-5s %10.1f %10.1f %7.3f\n", $2, $3, $4, $5, t[k], r }' \
    "$TMP/torch.txt" "$TMP/pipe.txt"
