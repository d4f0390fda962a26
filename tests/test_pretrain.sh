#!/usr/bin/env bash
# test_pretrain.sh — end-to-end checks of `clft pretrain` (issue: MoCo pre-training):
#   1. determinism: the same config + seed twice gives identical CSVs and final weights;
#   2. exact resume: a run killed by SIGKILL in mid-epoch and resumed ends with the same CSVs and
#      weights as the uninterrupted run;
#   3. the smoke run learns: loss falls and instance accuracy rises over the run;
#   4. FT writes pre- and post-transform statistics, post pos_mean <= pre pos_mean on every row;
#   5. bad input: an unknown key, a bad value, an unwritable run directory, a NaN loss — each a
#      one-line error and a non-zero exit, with the last good checkpoint kept.
# Timing columns (img_per_s, elapsed_s; the checkpoint's elapsed_s) measure the wall clock and are
# left out of the comparisons. Run by ctest from the repository root with CLFT_BUILD_DIR set.
set -euo pipefail
clft="$CLFT_BUILD_DIR/clft"
st_diff="$CLFT_BUILD_DIR/st_diff"
tmp=$(mktemp -d /tmp/clft-pretrain-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# A small run: 1024 images, batch 128 -> 8 steps an epoch, 3 epochs, a checkpoint every epoch.
args=(--baseline moco_v2 --data fashion-mnist --preset smoke --seed 3 --quiet
      --set data.train_limit=1024 --set optim.epochs=3 --set run.log_every=1)
last_ckpt() { ls "$1"/ckpt/*.safetensors | sort | tail -n 1; }
same_run() { # same_run DIR_A DIR_B: CSVs (timing columns aside) and final weights identical
  cmp <(cut -d, -f1-5 "$1/train.csv") <(cut -d, -f1-5 "$2/train.csv") || fail "$1 vs $2: train.csv differs"
  cmp "$1/scores.csv" "$2/scores.csv" || fail "$1 vs $2: scores.csv differs"
  cmp "$1/score_hist.csv" "$2/score_hist.csv" || fail "$1 vs $2: score_hist.csv differs"
  "$st_diff" "$(last_ckpt "$1")" "$(last_ckpt "$2")" elapsed_s || fail "$1 vs $2: final checkpoint differs"
}

"$clft" pretrain "${args[@]}" --out "$tmp/a"
"$clft" pretrain "${args[@]}" --out "$tmp/b"
same_run "$tmp/a" "$tmp/b"
[ "$(wc -l < "$tmp/a/scores.csv")" -eq 25 ] || fail "scores.csv should have a header + 24 rows"
echo "ok 1 determinism"

# Killed after step 11 (epoch 1, 3 steps past the epoch-0 checkpoint), then resumed.
if CLFT_TEST_KILL_AT_STEP=11 "$clft" pretrain "${args[@]}" --out "$tmp/c"; then
  fail "the run should have been killed"
fi
[ "$(ls "$tmp/c/ckpt" | wc -l)" -eq 1 ] || fail "expected exactly the epoch-0 checkpoint after the kill"
"$clft" pretrain "${args[@]}" --out "$tmp/c" --resume auto
same_run "$tmp/a" "$tmp/c"
echo "ok 2 exact resume after SIGKILL"

# Learning, on the smoke preset as CI runs it: mean loss of the last epoch below the first epoch's,
# mean instance accuracy above it. (A few dozen steps are too few: while the queue fills with real
# keys the loss first rises towards log(K+1).)
start=$(date +%s)
"$clft" pretrain --baseline moco_v2 --data fashion-mnist --preset smoke --quiet --out "$tmp/smoke"
echo "smoke run: $(( $(date +%s) - start )) s"
awk -F, 'NR > 1 { n[$1]++; l[$1] += $4; a[$1] += $5; last = $1 }
         END { printf "loss %.3f -> %.3f, inst acc %.3f -> %.3f\n", l[0]/n[0], l[last]/n[last], a[0]/n[0], a[last]/n[last];
               exit !(l[last] / n[last] < l[0] / n[0] && a[last] / n[last] > a[0] / n[0]) }' \
    "$tmp/smoke/train.csv" || fail "the smoke run did not learn"
echo "ok 3 smoke: loss falls, instance accuracy rises"

"$clft" pretrain "${args[@]}" --variant ft --set optim.epochs=1 --out "$tmp/ft"
awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
         { if ($c["pos_mean"] > $c["pre_pos_mean"]) { print "row " NR ": " $0; bad = 1 }
           if ($c["pre_pos_mean"] == "") bad = 1 }
         END { exit bad }' "$tmp/ft/scores.csv" || fail "ft: post pos_mean above pre pos_mean"
echo "ok 4 ft: post-transform pos_mean <= pre-transform on every row"

expect_error() { # expect_error PATTERN CMD...: non-zero exit, one stderr line matching PATTERN
  local pat=$1; shift
  if "$@" 2> "$tmp/err"; then fail "should have failed: $*"; fi
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "expected one error line: $*"; }
  grep -q -- "$pat" "$tmp/err" || { cat "$tmp/err"; fail "error does not mention '$pat'"; }
}
expect_error "nosuchkey" "$clft" pretrain "${args[@]}" --set optim.nosuchkey=1 --out "$tmp/x"
expect_error "lr" "$clft" pretrain "${args[@]}" --set optim.lr=abc --out "$tmp/x"
expect_error "/proc/clft-run" "$clft" pretrain "${args[@]}" --out /proc/clft-run
expect_error "nosuchdata" "$clft" pretrain "${args[@]}" --data fashion-mnist:/nosuchdata --out "$tmp/x"
# NaN: lr·wd = 1e4 makes every SGD step multiply the weights by -9999: the loss turns NaN within a
# few steps; training stops, and no checkpoint was written.
expect_error "loss is\|non-finite value" "$clft" pretrain "${args[@]}" --set optim.lr=1e4 --set optim.weight_decay=1 \
    --out "$tmp/nan"
[ ! -d "$tmp/nan/ckpt" ] || [ -z "$(ls "$tmp/nan/ckpt")" ] || fail "the NaN run wrote a checkpoint"
# A NaN weight (injected after step 11, past the epoch-0 checkpoint) while the loss of that step
# is still finite: the weights' guard stops the run at the next logged step, naming the epoch-0
# checkpoint as the last good one; that checkpoint stays as it was.
CLFT_TEST_KILL_AT_STEP=10 "$clft" pretrain "${args[@]}" --out "$tmp/poison" && fail "should have been killed"
cp "$(last_ckpt "$tmp/poison")" "$tmp/epoch0.safetensors"
CLFT_TEST_POISON_AT_STEP=11 expect_error "non-finite value at epoch 1, step 11.*epoch0001-step000000008" \
    "$clft" pretrain "${args[@]}" --out "$tmp/poison"
"$st_diff" "$tmp/epoch0.safetensors" "$(last_ckpt "$tmp/poison")" || fail "the NaN guard damaged the last checkpoint"
echo "ok 5 bad input and NaN guard"
