#!/usr/bin/env bash
# CPU training-step throughput: pipe against PyTorch eager on the same
# libtorch (the torch venv), same thread count, in the same run, for
# resnet50, densenet201 and vit_b_16 at batch 8, 224x224, transfer and
# finetune. Prints images/s and the ratio pipe/PyTorch (target >= 0.95).
# Not a test.
#
# This machine is shared: a neighbour can slow one process by 20%. So each
# process reports its median step (after WARMUP), the two sides alternate
# process by process for ROUNDS rounds, and each side's best round counts.
# Every round is printed too. About 15 minutes on 2 cores with the defaults.
#
# Environment: PIPE_VENV, THREADS (default: all cores), STEPS, WARMUP, ROUNDS,
# MODELS, MODES, LAYOUT (the optimizer's: auto as `train` picks it, flat or
# per-tensor).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${PIPE_VENV:-$HOME/.local/share/pipe/torch-venv}
export PATH="$VENV/bin:$PATH" LIBTORCH_USE_PYTORCH=1
PY="$VENV/bin/python"
THREADS=${THREADS:-$(nproc)}
STEPS=${STEPS:-6}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-3}
MODELS=${MODELS:-resnet50,densenet201,vit_b_16}
MODES=${MODES:-transfer,finetune}
LAYOUT=${LAYOUT:-auto}

cargo build --release --quiet -p pipe-torch --example train_bench
TORCH_LIB=$("$PY" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$TORCH_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
: >"$TMP/rates.txt"
for model in ${MODELS//,/ }; do
  for mode in ${MODES//,/ }; do
    ARGS=(--models "$model" --modes "$mode" --amp none --batch 8 --size 224
          --steps "$STEPS" --warmup "$WARMUP" --device cpu --threads "$THREADS" --median)
    for round in $(seq "$ROUNDS"); do
      target/release/examples/train_bench "${ARGS[@]}" --layout "$LAYOUT" 2>/dev/null | tee -a "$TMP/rates.txt"
      "$PY" benches/train_torch.py "${ARGS[@]}" 2>/dev/null | tee -a "$TMP/rates.txt"
    done
  done
done

echo
echo "threads: $THREADS, median of $STEPS steps after $WARMUP warm-up, best of $ROUNDS rounds,"
echo "batch 8, 224x224, optimizer layout $LAYOUT (images/s)"
printf '%-12s %-9s %10s %10s %7s\n' model mode pipe torch ratio
# Lines: `<side> <model> <mode> <amp> <images/s>`; best rate per side and configuration.
awk '{ k = $2" "$3; if (!(k in seen)) { seen[k] = 1; order[n++] = k }
       if ($5 > best[$1" "k]) best[$1" "k] = $5 }
     END { for (i = 0; i < n; i++) { k = order[i]; split(k, f, " ")
             p = best["pipe "k]; t = best["torch "k]
             printf "%-12s %-9s %10.2f %10.2f %7.3f\n", f[1], f[2], p, t, (t > 0 ? p / t : 0) } }' \
    "$TMP/rates.txt"
