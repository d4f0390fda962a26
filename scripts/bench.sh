#!/usr/bin/env bash
# bench.sh — `make bench`: every benchmark, one after another (never in parallel: they time the CPU).
# Each prints `key=value` lines; nothing here is a pass/fail test.
set -euo pipefail
build=${1:-build}
run() {
  local exe=$build/$1; shift
  if [ -x "$exe" ]; then
    echo "== $(basename "$exe") $*"
    "$exe" "$@"
  fi
}
run bench_conv
run bench_loader
run bench_variants
run bench_moco
run bench_variant_overhead
