#!/usr/bin/env bash
# fuzz.sh BUILD_DIR [TARGET ...] — runs each libFuzzer target of tests/fuzz (default: all) over its
# committed seed corpus tests/fuzz/corpus/<target>/ (read-only: new inputs go to
# BUILD_DIR/fuzz-corpus/<target>/), one target at a time, one process each.
#   FUZZ_SECONDS   time per target (default 30)          FUZZ_RUNS  executions per target (default:
#   FUZZ_NICE      nice level (default 0; 19 on a shared machine)      no limit; the first of the two wins)
# A crash, leak, sanitizer report, timeout (> 10 s per input) or out-of-memory (> 2 GB) stops with
# a non-zero status; the input is kept in BUILD_DIR/fuzz-artifacts/. Prints one summary line per
# target: executions, seconds, exec/s, corpus size.
set -euo pipefail
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET ...]}
shift
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_idx fuzz_cifar fuzz_jpeg fuzz_config fuzz_safetensors fuzz_csv fuzz_plot_csv)
src=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-30}
runs=${FUZZ_RUNS:--1}
status=0
mkdir -p "$build/fuzz-artifacts" "$build/fuzz-logs"
for t in "${targets[@]}"; do
  work="$build/fuzz-corpus/$t"
  mkdir -p "$work"
  opts=(-max_total_time="$seconds" -runs="$runs" -timeout=10 -rss_limit_mb=2048
        -print_final_stats=1 -artifact_prefix="$build/fuzz-artifacts/$t-")
  [ -f "$src/tests/fuzz/$t.dict" ] && opts+=(-dict="$src/tests/fuzz/$t.dict")
  case $t in
    fuzz_cifar) opts+=(-max_len=6200) ;; # two 3073/3074-byte records
    fuzz_jpeg) opts+=(-max_len=8192) ;;
    *) opts+=(-max_len=4096) ;;
  esac
  log="$build/fuzz-logs/$t.log"
  start=$(date +%s)
  # Run from the source root: fuzz_config's seeds name no files, but keep paths predictable.
  if ! (cd "$src" && nice -n "${FUZZ_NICE:-0}" "$build/$t" "${opts[@]}" "$work" \
        "$src/tests/fuzz/corpus/$t") >"$log" 2>&1; then
    echo "fuzz: $t FAILED (see $log; input in $build/fuzz-artifacts/)" >&2
    tail -40 "$log" >&2
    status=1
  fi
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  echo "fuzz: $t: ${execs:-?} executions in $((end - start)) s (${rate:-?} exec/s), corpus $(ls "$work" | wc -l) new + $(ls "$src/tests/fuzz/corpus/$t" | wc -l) seeds"
done
exit $status
