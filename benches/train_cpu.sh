#!/usr/bin/env bash
# CPU training-step throughput: pipe against PyTorch eager on the same
# libtorch (the torch venv), same thread count, in the same run, for
# resnet50, densenet201 and vit_b_16 at batch 8, 224x224, transfer and
# finetune. Prints images/s and the ratio pipe/PyTorch (target >= 0.95).
# Not a test. About 5-10 minutes on 2 cores (STEPS=5, WARMUP=2).
# Environment: PIPE_VENV, THREADS (default: all cores), STEPS, WARMUP, MODELS, MODES.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PIPE_VENV:-$HOME/.local/share/pipe/torch-venv}
export PATH="$VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1
PY="$VENV/bin/python"
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
MODELS=${MODELS:-resnet50,densenet201,vit_b_16}
MODES=${MODES:-transfer,finetune}

cargo build --release --quiet -p pipe-torch --example train_bench
TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/pipe.txt"
: >"$TMP/torch.txt"
# One process per configuration, alternating pipe and PyTorch, so that
# both see the same machine load.
for model in ${MODELS//,/ }; do
  for mode in ${MODES//,/ }; do
    ARGS=(--models "$model" --modes "$mode" --amp none --batch 8 --size 224
          --steps "$STEPS" --warmup "$WARMUP" --device cpu --threads "$THREADS")
    target/release/examples/train_bench "${ARGS[@]}" | tee -a "$TMP/pipe.txt"
    "$PY" benches/train_torch.py "${ARGS[@]}" 2>/dev/null | tee -a "$TMP/torch.txt"
  done
done

echo
echo "threads: $THREADS, steps: $STEPS after $WARMUP warm-up, batch 8, 224x224 (images/s)"
printf '%-12s %-9s %10s %10s %7s\n' model mode pipe torch ratio
awk 'NR == FNR { t[$2" "$3] = $5; next }
     { k = $2" "$3; r = (k in t && t[k] > 0) ? $5 / t[k] : 0;
       printf "%-12s %-9s %10.2f %10.2f %7.3f\n", $2, $3, $5, t[k], r }' \
    "$TMP/torch.txt" "$TMP/pipe.txt"
