#!/usr/bin/env bash
# bench.sh — `make bench`: every benchmark, one after another (never in parallel: they time the CPU).
# Each prints `key=value` lines; nothing here is a pass/fail test. The speed anchor is PyTorch
# 2.15.0 from PyPI (what a researcher installs instead of clft), set up here in the ignored folder
# .venv-bench/ when it is missing — the only download clft ever makes; one line says so when it
# cannot (no network), and the benchmarks then run without the torch side.
set -euo pipefail
build=${1:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
venv="$root/.venv-bench"
TORCH_VERSION=2.15.0
if ! "$venv/bin/python3" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2> /dev/null; then
  echo "bench: setting up PyTorch $TORCH_VERSION from PyPI in $venv (once; a few GB)"
  if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q "torch==$TORCH_VERSION" numpy; } > "$root/.venv-bench.log" 2>&1; then
    echo "bench: could not install torch $TORCH_VERSION from PyPI (see .venv-bench.log): the torch side is skipped"
  fi
fi
run() {
  local exe=$build/$1; shift
  if [ -x "$exe" ]; then
    echo "== $(basename "$exe") $*"
    "$exe" "$@"
  fi
}
run bench_conv
# bf16 convolutions both ways: oneDNN's bf16 primitives, and its fp32 ones on bf16-rounded operands
# (what a CPU without AMX gets: core/backend/cpu/dnnl_conv.c)
run bench_conv --precision bf16 --bf16-kernels bf16
run bench_conv --precision bf16 --bf16-kernels fp32
run bench_loader
run bench_variants
# clft against PyTorch 2.15 at each precision (bf16: clft --precision bf16 vs torch autocast +
# channels_last), mini, mini32 and resnet18, 3 interleaved rounds each
run bench_moco --precision fp32
run bench_moco --precision bf16
run bench_variant_overhead 3 65536
run bench_variant_overhead 3 4096  # the mini preset's queue
# data parallel (issue 17): 2 ranks x 1 thread against 1 process x 2 threads on the mini net;
# skipped with one line where mpirun is missing or clft was built without MPI
echo "== bench_dist.sh"
bash "$root/bench/bench_dist.sh" "$build"
