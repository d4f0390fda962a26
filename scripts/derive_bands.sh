#!/usr/bin/env bash
# derive_bands.sh — the expected bands of a preset (results/expected/PRESET.csv), measured: the
# preset's reproduction under every kernel set this CPU can execute, with SEEDS seeds each, then
# `clft check --write-expected` over all of their summaries (the envelope of mean ± K·std, ± TOL;
# results/expected/README.md says why these K, TOL, metrics and seeds). Issue 20.
#
#   scripts/derive_bands.sh [--preset smoke] [--seeds 10] [--k-std 2.5] [--abs-tol 1]
#                           [--metric-tols loss=0.02,pos_score=0.01,neg_score=0.01]
#                           [--metrics top1,loss,pos_score,neg_score]
#                           [--set NAME:VAR=VALUE[,VAR=VALUE...]]... [--clft build/clft]
#                           [--work build/bands] [--derive-only]
#
# The defaults are smoke's (results/expected/README.md): 10 seeds, k 2.5, 1 percentage point for
# the accuracies, 0.02 for the pre-training loss and 0.01 for the mean cosine scores, gating top-1
# and the pre-training statistics. --derive-only re-derives from the raw summaries already there.
#
# A set is a name and the environment it runs under, e.g. `Haswell:OPENBLAS_CORETYPE=Haswell`;
# `auto:` is clft's own choice (no variable set; core/backend/blas.c). Several variables make one set:
# `SkylakeX-avx2:OPENBLAS_CORETYPE=SkylakeX,ONEDNN_MAX_CPU_ISA=AVX2` (the oneDNN ISA caps, once
# convolutions run there). Every run starts with OPENBLAS_CORETYPE and ONEDNN_MAX_CPU_ISA unset, so
# a value exported around the script does not leak into a set. A set whose value needs CPU flags that
# /proc/cpuinfo lacks is skipped with a note (OpenBLAS would die of SIGILL); the raw summary an
# earlier run on another CPU left for it is still used.
#
# Writes, per set: results/expected/PRESET-raw/NAME.csv (the SEEDS-seed summary.csv the bands come
# from) and PRESET-raw/2-seeds/NAME.csv (the summary of seeds 1..2 of the same runs — what CI's
# reproduction computes under that set — checked against the new bands at the end); one row per set
# in PRESET-raw/sets.csv (environment, OpenBLAS core, CPU, seeds, commit). Then PRESET.csv from the
# SEEDS-seed summaries of every listed set present. Run directories go under WORK/NAME (complete
# runs are skipped when re-run). Runs one reproduction at a time, at nice 10.
set -euo pipefail
cd "$(dirname "$0")/.."

preset=smoke seeds=10 k_std=2.5 abs_tol=1 metric_tols=loss=0.02,pos_score=0.01,neg_score=0.01
metrics=top1,loss,pos_score,neg_score clft=build/clft work=build/bands derive_only=0
sets=()
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --preset) preset=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --k-std) k_std=$2; shift 2 ;;
    --abs-tol) abs_tol=$2; shift 2 ;;
    --metric-tols) metric_tols=$2; shift 2 ;;
    --metrics) metrics=$2; shift 2 ;;
    --set) sets+=("$2"); shift 2 ;;
    --clft) clft=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --derive-only) derive_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "derive_bands.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done
[ ${#sets[@]} -gt 0 ] || sets=(Haswell:OPENBLAS_CORETYPE=Haswell SkylakeX:OPENBLAS_CORETYPE=SkylakeX
                               Cooperlake:OPENBLAS_CORETYPE=Cooperlake auto:)
raw=results/expected/$preset-raw
out=results/expected/$preset.csv
mkdir -p "$raw/2-seeds" "$work"
[ -x "$clft" ] || { echo "derive_bands.sh: no $clft (make build first)" >&2; exit 2; }

# The /proc/cpuinfo flags a VAR=VALUE needs; "?" when there is no rule for it (run anyway).
needs() {
  case "${1%%=*}:$(echo "${1#*=}" | tr '[:upper:]' '[:lower:]')" in
    OPENBLAS_CORETYPE:prescott|OPENBLAS_CORETYPE:nehalem|OPENBLAS_CORETYPE:core2) echo "sse2" ;;
    OPENBLAS_CORETYPE:sandybridge) echo "avx" ;;
    OPENBLAS_CORETYPE:haswell|OPENBLAS_CORETYPE:zen) echo "avx2 fma" ;;
    OPENBLAS_CORETYPE:skylakex) echo "avx512f avx512cd avx512bw avx512dq avx512vl" ;;
    OPENBLAS_CORETYPE:cooperlake) echo "avx512f avx512cd avx512bw avx512dq avx512vl avx512_bf16" ;;
    ONEDNN_MAX_CPU_ISA:sse41) echo "sse4_1" ;;
    ONEDNN_MAX_CPU_ISA:avx) echo "avx" ;;
    ONEDNN_MAX_CPU_ISA:avx2) echo "avx2 fma" ;;
    ONEDNN_MAX_CPU_ISA:avx2_vnni) echo "avx2 fma avx_vnni" ;;
    ONEDNN_MAX_CPU_ISA:avx512_core) echo "avx512f avx512bw avx512dq avx512vl" ;;
    ONEDNN_MAX_CPU_ISA:avx512_core_vnni) echo "avx512f avx512bw avx512dq avx512vl avx512_vnni" ;;
    ONEDNN_MAX_CPU_ISA:avx512_core_bf16) echo "avx512f avx512bw avx512dq avx512vl avx512_bf16" ;;
    ONEDNN_MAX_CPU_ISA:avx512_core_amx) echo "avx512f avx512bw avx512dq avx512vl avx512_bf16 amx_tile amx_bf16 amx_int8" ;;
    ONEDNN_MAX_CPU_ISA:all|ONEDNN_MAX_CPU_ISA:default) echo "" ;;
    *) echo "?" ;;
  esac
}
cpu_flags=" $(grep -m1 '^flags' /proc/cpuinfo | cut -d: -f2) "

# Prints the flags set $1's variables need and this CPU lacks (empty: it can run).
missing() {
  local assign flag need miss=""
  IFS=, read -ra assigns <<< "${1#*:}"
  for assign in "${assigns[@]}"; do
    [ -n "$assign" ] || continue
    need=$(needs "$assign")
    if [ "$need" = "?" ]; then echo "note: no CPU-flag rule for $assign; running it" >&2; continue; fi
    for flag in $need; do case $cpu_flags in *" $flag "*) ;; *) miss="$miss $flag" ;; esac; done
  done
  echo "${miss# }"
}

# Runs the rest of the command line under set $1's environment (and only its).
in_set() {
  local set=$1; shift
  IFS=, read -ra assigns <<< "${set#*:}"
  env -u OPENBLAS_CORETYPE -u ONEDNN_MAX_CPU_ISA ${assigns[@]+"${assigns[@]}"} "$@"
}

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
[ -f "$raw/sets.csv" ] || echo "set,env,blas,cpu,seeds,trained_at,date" > "$raw/sets.csv"
used=()
for set in "${sets[@]}"; do
  name=${set%%:*}
  if [ "$derive_only" = 0 ]; then
    miss=$(missing "$set")
    if [ -n "$miss" ]; then
      echo "skip $name: this CPU lacks $miss"
    else
      blas=$(in_set "$set" "$clft" --version | sed -n 's/^BLAS: OpenBLAS core \([^ ]*\).*/\1/p')
      vars=${set#*:}
      echo "== $name (${vars:+$vars; }OpenBLAS core $blas): $preset, $seeds seeds -> $raw/$name.csv"
      d=$work/$name
      for n in "$seeds" 2; do # the SEEDS-seed summary, then seeds 1..2 of the same runs (no new runs)
        in_set "$set" nice -n 10 "$clft" reproduce --preset "$preset" --seeds "$n" \
          --runs-dir "$d/runs" --results-dir "$d/results-$n" --results-md "$d/RESULTS-$n.md" \
          > "$d.log-$n" 2>&1 || { echo "reproduction failed: $d.log-$n" >&2; exit 1; }
      done
      cp "$d/results-$seeds/$preset/summary.csv" "$raw/$name.csv"
      cp "$d/results-2/$preset/summary.csv" "$raw/2-seeds/$name.csv"
      # the commit and OpenBLAS core the runs were trained with (their config.ini's header)
      cfg=$(find "$d/runs" -name config.ini | sort | head -1)
      commit=$(sed -n '1s/.*(commit \([^)]*\)).*/\1/p' "$cfg")
      blas=$(sed -n 's/^# BLAS: OpenBLAS core \([^ ]*\).*/\1/p' "$cfg")
      grep -v "^$name," "$raw/sets.csv" > "$raw/sets.csv.tmp" || true
      echo "$name,$(echo "${set#*:}" | tr , ' '),$blas,\"$cpu\",$seeds,$commit,$(date -u +%F)" \
        >> "$raw/sets.csv.tmp"
      mv "$raw/sets.csv.tmp" "$raw/sets.csv"
    fi
  fi
  [ -f "$raw/$name.csv" ] && used+=("$raw/$name.csv")
done
[ ${#used[@]} -gt 0 ] || { echo "derive_bands.sh: no raw summary to derive from" >&2; exit 1; }
"$clft" check --write-expected "$out" --k-std "$k_std" --abs-tol "$abs_tol" \
  ${metric_tols:+--abs-tol "$metric_tols"} --metrics "$metrics" "${used[@]}"
# What CI computes under each set must pass the new bands.
rc=0
for s in "${used[@]}"; do
  two=$raw/2-seeds/$(basename "$s")
  [ -f "$two" ] || continue
  if "$clft" check "$two" --expected "$out" > "$work/check-$(basename "$s" .csv).txt"; then
    echo "PASS  2-seed summary $two"
  else
    echo "FAIL  2-seed summary $two:"; grep FAIL "$work/check-$(basename "$s" .csv).txt"; rc=1
  fi
done
exit $rc
