#!/usr/bin/env bash
# Prints a paper-shaped pipeline of trivial `cmd` stages to stdout:
# 1 download, decode, resize, 4 augment, N train, N evaluate, 5 plots,
# 1 report (13 + 2N stages; N=12 gives 37, N=1000 gives 2,013).
# Usage: benches/gen-pipeline.sh N > pipeline.yaml
set -euo pipefail
n=${1:?usage: gen-pipeline.sh N}
seeds=$(seq -s ', ' 0 $((n - 1)))
cat <<YAML
version: 1
stages:
  download:
    kind: cmd
    params:
      run: echo archive > \$PIPE_OUT/o
  decode:
    kind: cmd
    inputs:
      raw: download
    params:
      run: cat \$PIPE_INPUT_RAW/o > \$PIPE_OUT/o; echo decoded >> \$PIPE_OUT/o
  resize:
    kind: cmd
    inputs:
      data: decode
    params:
      run: cat \$PIPE_INPUT_DATA/o > \$PIPE_OUT/o; echo resized >> \$PIPE_OUT/o
  augment:
    kind: cmd
    matrix:
      aug: [flip, crop, color, none]
    inputs:
      data: resize
    params:
      run: echo \${matrix.aug} > \$PIPE_OUT/o
  train:
    kind: cmd
    matrix:
      seed: [$seeds]
    inputs:
      data: "augment[*]"
    params:
      run: echo model \${matrix.seed} > \$PIPE_OUT/o
  evaluate:
    kind: cmd
    matrix:
      seed: [$seeds]
    inputs:
      model: "train[\${matrix.seed}]"
    params:
      run: echo score \${matrix.seed} > \$PIPE_OUT/o
  plot:
    kind: cmd
    matrix:
      figure: [accuracy, loss, confusion, timing, memory]
    inputs:
      runs: "evaluate[*]"
    params:
      run: echo \${matrix.figure} > \$PIPE_OUT/o
  report:
    kind: cmd
    inputs:
      figures: "plot[*]"
    params:
      run: echo report > \$PIPE_OUT/o
YAML
