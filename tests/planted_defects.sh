#!/usr/bin/env bash
# planted_defects.sh — proves that `clft check` against results/expected/smoke.csv still catches a
# real regression (issue 20): bands so wide that a defect passes are as wrong as bands so narrow
# that another CPU fails. For each tests/defects/*.patch (each says at its top what it breaks and
# where to re-point it when the code it patches moves):
#   1. the tree as it is (tracked files, uncommitted edits included: `git stash create`) is
#      exported to a temporary directory and the patch applied with `git apply` — a patch that no
#      longer applies FAILS this test (it went stale: re-point it, do not drop it);
#   2. only the `clft` target is built there;
#   3. the smoke reproduction runs there exactly as CI runs it (`--preset smoke`, its 2 seeds);
#   4. `clft check` of its summary against the committed bands must exit 1 with at least one row of
#      a trained encoder or of its training (knn, linear, pretrain; not a floor) OUTSIDE its band;
#      exit 0 (the defect passes) or 2 (bad input), or only missing rows (the runs crashed), fail
#      this test.
# The defects today: ft_backward_sign (FT's backward with a flipped sign), no_ema (the key encoder
# not updated by the EMA), same_view (the loader feeding the same view twice).
#
#   tests/planted_defects.sh [--expected results/expected/smoke.csv] [--clft build/clft]
#                            [--keep] [PATCH ...]
#
# Exit 0 when every defect fails the check. About 1.5 min per defect on 2 cores (build + 4 runs).
# CI runs it after the smoke check (.ci/run). Needs git, cmake and the build's dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
expected=results/expected/smoke.csv clft=$PWD/build/clft keep=0
patches=()
while [ $# -gt 0 ]; do
  case $1 in
    --expected) expected=$2; shift 2 ;;
    --clft) clft=$(realpath "$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) patches+=("$1"); shift ;;
  esac
done
[ ${#patches[@]} -gt 0 ] || patches=(tests/defects/*.patch)
for i in "${!patches[@]}"; do patches[i]=$(realpath "${patches[i]}"); done
[ -x "$clft" ] || { echo "planted_defects.sh: no $clft (make build first)" >&2; exit 2; }
expected=$(realpath "$expected")

tmp=$(mktemp -d /tmp/clft-defects-XXXXXX)
[ "$keep" = 1 ] && echo "keeping $tmp" || trap 'rm -rf "$tmp"' EXIT
rev=$(git stash create) || true
rev=${rev:-HEAD}
jobs=$(nproc)

fails=0
for patch in "${patches[@]}"; do
  name=$(basename "$patch" .patch)
  d=$tmp/$name
  mkdir -p "$d/src"
  git archive "$rev" | tar -x -C "$d/src"
  t0=$(date +%s)
  if ! (cd "$d/src" && git apply "$patch"); then
    echo "FAIL  $name: $patch no longer applies to this tree (stale: re-point it, see its header)"
    fails=$((fails + 1)); continue
  fi
  if ! { cmake -S "$d/src" -B "$d/build" -DCMAKE_BUILD_TYPE=Release &&
         nice -n 10 cmake --build "$d/build" --target clft -j "$jobs"; } > "$d/build.log" 2>&1; then
    echo "FAIL  $name: the patched tree does not build ($d/build.log):"; tail -20 "$d/build.log"
    fails=$((fails + 1)); continue
  fi
  (cd "$d/src" && nice -n 10 "$d/build/clft" reproduce --preset smoke --runs-dir "$d/runs" \
     --results-dir "$d/results" --results-md "$d/RESULTS.md") > "$d/reproduce.log" 2>&1 || true
  rc=0
  "$clft" check "$d/results/smoke/summary.csv" --expected "$expected" > "$d/check.txt" 2>&1 || rc=$?
  secs=$(($(date +%s) - t0))
  # rows of the trained encoders and their training (not the pixel/random floors) outside their bands
  outside=$(grep -E '^FAIL +[^ ]+ [^ ]+ (knn|linear|pretrain) ' "$d/check.txt" | grep OUTSIDE || true)
  if [ "$rc" = 1 ] && [ -n "$outside" ]; then
    echo "ok    $name: clft check fails it (${secs} s):"
    echo "$outside" | sed 's/^/        /'
  else
    echo "FAIL  $name: clft check exit $rc, not a gated metric outside its band (${secs} s):"
    sed 's/^/        /' "$d/check.txt"; tail -5 "$d/reproduce.log"
    fails=$((fails + 1))
  fi
done
echo "planted_defects.sh: ${#patches[@]} defects, $fails not caught by the check (or stale, or not built)"
[ "$fails" = 0 ]
