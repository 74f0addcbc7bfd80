#!/usr/bin/env bash
# The README's benchmark table on this machine, in one command (GPU, TPU or CPU):
#
#   bash benchmarks/accelerator.sh [OUT_DIR]      (default benchmarks/results/<host>)
#
# Runs every benchmark (JAX against PyTorch in the same run where there is a PyTorch side), then
# 200 steps per run of the paper-size training on the rendered dataset at full size
# (configs/paper_synthetic.py). Everything printed is also kept under OUT_DIR. Install first:
#   pip install -e .[cuda,bench]      (NVIDIA GPU; on a TPU VM: .[tpu,bench])
# PyTorch for a GPU: install the CUDA build your driver takes instead of the CPU pin.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${1:-benchmarks/results/$(hostname)}"
mkdir -p "$OUT"
run() {   # run NAME COMMAND...: prints and keeps its output
  local name="$1"; shift
  echo "== $name: $*" | tee "$OUT/$name.txt"
  "$@" 2>&1 | tee -a "$OUT/$name.txt"
}
run devices "$PY" -c "import jax, platform; print('JAX', jax.__version__, jax.devices(), platform.node())"
run soft_argmax "$PY" benchmarks/soft_argmax.py
run triangulation "$PY" benchmarks/triangulation.py
run train_step "$PY" benchmarks/train_step.py --sizes 384:96 256:64 --batch 8
run train_step_bf16 "$PY" benchmarks/train_step.py --sizes 384:96 --batch 8 --dtype bfloat16
run input_pipeline "$PY" benchmarks/input_pipeline.py
run paper_synthetic "$PY" launch.py --config=configs/paper_synthetic.py \
    --workdir="$OUT/paper_synthetic"
echo "results in $OUT"
