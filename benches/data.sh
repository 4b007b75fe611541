#!/usr/bin/env bash
# The data benchmark (issue 3): pipe's kernels and torchvision's, side by
# side in one run on the same images, then the peak RSS of decoding and
# resizing all 13,000 STL-10-sized images. Not a test; takes a few minutes.
#
#   benches/data.sh            # uses $PIPE_PYTHON or the torch venv's python
#
# Throughput is reported with 1 thread (per core) and with all cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PIPE_PYTHON:-/root/.local/share/pipe/torch-venv/bin/python}"
CORES="$(nproc)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cargo build --release -q -p pipe-data --example data_bench
BIN=target/release/examples/data_bench

"$BIN" images "$WORK/images.safetensors" 2000
declare -A R
for t in 1 "$CORES"; do
  R[pipe,$t]="$("$BIN" kernels "$WORK/images.safetensors" "$t")"
  R[tv,$t]="$("$PY" benches/data_torchvision.py "$WORK/images.safetensors" "$t")"
done

"$PY" - "$CORES" "${R[pipe,1]}" "${R[tv,1]}" "${R[pipe,$CORES]}" "${R[tv,$CORES]}" <<'PYEOF'
import json, sys
cores = int(sys.argv[1])
p1, t1, pn, tn = (json.loads(a) for a in sys.argv[2:6])
targets = {"resize": 2.0, "pspnet": 2.0, "augmix": 2.0, "cutmix_mixup": 1.0}
labels = {"resize": "resize 96->224 (2,000 images)", "pspnet": "pspnet @224", "augmix": "augmix @224",
          "cutmix_mixup": "cutmix_mixup @224 (float, batch 50)"}
print(f"\nimages/s. per core = 1 thread, images per CPU-second (fair on a shared machine);"
      f" wall = elapsed time; {cores}t = all {cores} cores, wall.")
print(f"| kernel | pipe/core | tv/core | ratio | target | pipe 1t wall | tv 1t wall | pipe {cores}t | tv {cores}t | ratio {cores}t |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for k in targets:
    r1, rn = p1[k + "_cpu"] / t1[k + "_cpu"], pn[k] / tn[k]
    ok = "" if r1 >= targets[k] else " MISSED"
    print(f"| {labels[k]} | {p1[k + '_cpu']:.0f} | {t1[k + '_cpu']:.0f} | {r1:.2f}x{ok} | {targets[k]:.0f}x | "
          f"{p1[k]:.0f} | {t1[k]:.0f} | {pn[k]:.0f} | {tn[k]:.0f} | {rn:.2f}x |")
PYEOF

echo
echo "peak RSS of decoding + resizing 13,000 STL-10-sized images to 224 (target < 2.5 GB):"
"$BIN" decode-resize "$WORK" >/dev/null   # makes the archive (not measured)
rm -f "$WORK"/*.safetensors
/usr/bin/time -v "$BIN" decode-resize "$WORK" 2> "$WORK/time.txt"
grep -E "Maximum resident|Elapsed" "$WORK/time.txt"
