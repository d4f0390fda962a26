#!/usr/bin/env bash
# test_faults.sh — fault injection on `clft pretrain` (issue: hardening; no result is ever lost):
#   1. SIGKILL after each of 20 random steps, and in the middle of checkpoint writes (after the
#      temporary is written, before the rename): the resumed run ends with the same CSVs and tensors
#      as the uninterrupted one, and the orphan temporary is removed;
#   2. a full disk (tmpfs of several sizes, so that each file the run writes is the one that fills
#      it; skipped where mount is not allowed) and a read-only file (chattr +i, each file the run
#      writes): a clear one-line error, and the run resumes to the same final files;
#   3. a corrupted checkpoint of each kind (truncated, bad header, NaN weight, impossible position,
#      zero random stream, a queue of another shape, unknown format version, a missing tensor):
#      set aside with a warning and the run resumes from the previous checkpoint to the same final
#      files, no CSV row lost; a resume with another configuration is an error naming the keys;
#   4. two processes on one run directory: the second stops with one line; --resume never on a
#      directory that holds a run starts afresh beside it; a run that fails before its first step
#      leaves no directory; leftover CSVs of a run that never checkpointed (a 0-byte one too) do not
#      stop a fresh start.
# Timing columns (img_per_s, elapsed_s) are left out of the comparisons. Run by ctest from the
# repository root with CLFT_BUILD_DIR set (CLFT_FAULT_KILLS=N changes the number of kill trials).
set -euo pipefail
clft="$CLFT_BUILD_DIR/clft"
st_diff="$CLFT_BUILD_DIR/st_diff"
st_edit="$CLFT_BUILD_DIR/st_edit"
tmp=$(mktemp -d /tmp/clft-faults-XXXXXX)
mnt="$tmp/mnt"
cleanup() {
  chattr -R -i "$tmp" 2> /dev/null || true
  mountpoint -q "$mnt" 2> /dev/null && umount "$mnt"
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 512 images, batch 64: 8 steps an epoch, 3 epochs, a checkpoint every epoch, all kept.
args=(--baseline moco_v2 --data fashion-mnist --preset smoke --seed 5 --quiet
      --set data.train_limit=512 --set optim.batch=64 --set optim.epochs=3 --set run.log_every=1
      --set model.width=4 --set moco.K=256 --set run.keep_ckpt=0)
steps=24
last_ckpt() { ls "$1"/ckpt/*.safetensors | sort | tail -n 1; }
same_run() { # same_run DIR_A DIR_B: CSVs (timing columns aside) and all checkpoints identical
  cmp <(cut -d, -f1-5 "$1/train.csv") <(cut -d, -f1-5 "$2/train.csv") || fail "$2: train.csv differs"
  cmp "$1/scores.csv" "$2/scores.csv" || fail "$2: scores.csv differs"
  cmp "$1/score_hist.csv" "$2/score_hist.csv" || fail "$2: score_hist.csv differs"
  for c in "$1"/ckpt/*.safetensors; do
    "$st_diff" "$c" "$2/ckpt/$(basename "$c")" elapsed_s || fail "$2: $(basename "$c") differs"
  done
}
resume() { "$clft" pretrain "${args[@]}" --out "$1" --resume auto 2> "$tmp/resume.err" || { cat "$tmp/resume.err"; fail "resume of $1 failed"; }; }
one_error() { # one_error PATTERN: the last command's stderr ($tmp/err) is one line matching PATTERN
  [ "$(wc -l < "$tmp/err")" -eq 1 ] || { cat "$tmp/err"; fail "expected one error line"; }
  grep -q -- "$1" "$tmp/err" || { cat "$tmp/err"; fail "error does not mention '$1'"; }
}

"$clft" pretrain "${args[@]}" --out "$tmp/ref"
[ "$(ls "$tmp/ref/ckpt" | wc -l)" -eq 3 ] || fail "the reference run should keep 3 checkpoints"

# ---- 1. kills ----
kills=${CLFT_FAULT_KILLS:-20}
mapfile -t at < <(awk -v n="$kills" -v m=$((steps - 1)) 'BEGIN { srand(2026); while (c < n && c < m) { s = 1 + int(rand() * m); if (!(s in seen)) { seen[s] = 1; c++; print s } } }')
for k in "${at[@]}"; do
  if CLFT_TEST_KILL_AT_STEP=$k "$clft" pretrain "${args[@]}" --out "$tmp/kill$k"; then fail "step $k: not killed"; fi
  resume "$tmp/kill$k"
  same_run "$tmp/ref" "$tmp/kill$k"
  rm -rf "$tmp/kill$k"
done
echo "ok 1a SIGKILL after steps ${at[*]}: resumed runs identical to the uninterrupted one"
# atomic writes: #1 is config.ini, #2..#4 the three checkpoints
for n in 1 2 3 4; do
  if CLFT_TEST_KILL_IN_CKPT_WRITE=$n "$clft" pretrain "${args[@]}" --out "$tmp/kw$n"; then fail "write $n: not killed"; fi
  [ -n "$(find "$tmp/kw$n" -name '*.tmp.*')" ] || fail "write $n: no temporary left by the kill"
  "$clft" pretrain "${args[@]}" --out "$tmp/kw$n" 2> "$tmp/kw.err" || { cat "$tmp/kw.err"; fail "write $n: resume failed"; }
  [ -z "$(find "$tmp/kw$n" -name '*.tmp.*')" ] || fail "write $n: the orphan temporary is still there"
  same_run "$tmp/ref" "$tmp/kw$n"
done
echo "ok 1b SIGKILL inside the 4 atomic writes: temporaries removed, runs identical"

# ---- 2. full disk, read-only files ----
mkdir -p "$mnt"
if mount -t tmpfs -o size=64k tmpfs "$mnt" 2> /dev/null; then
  umount "$mnt"
  # sizes at which config.ini, the CSVs, then each checkpoint is the write that fails
  for kb in 4 8 16 64 200 400 700; do
    mount -t tmpfs -o size=${kb}k tmpfs "$mnt"
    if "$clft" pretrain "${args[@]}" --out "$mnt/run" 2> "$tmp/err"; then
      umount "$mnt"; continue # it fitted: nothing to test at this size
    fi
    one_error "No space left on device\|space"
    mkdir -p "$tmp/df$kb"
    if [ -d "$mnt/run" ]; then cp -a "$mnt/run/." "$tmp/df$kb/"; fi
    umount "$mnt"
    resume "$tmp/df$kb"
    same_run "$tmp/ref" "$tmp/df$kb"
    echo "  disk full at ${kb} KiB: $(tr -d '\n' < "$tmp/err" | cut -c1-150)"
  done
  echo "ok 2a full disk at each size: one line, then resumed to the same files"
else
  echo "skip 2a: mount -t tmpfs is not allowed here"
fi
if chattr +i "$tmp/ref/config.ini" 2> /dev/null; then
  chattr -i "$tmp/ref/config.ini"
  for f in config.ini train.csv scores.csv score_hist.csv ckpt; do
    rm -rf "$tmp/ro"
    CLFT_TEST_KILL_AT_STEP=12 "$clft" pretrain "${args[@]}" --out "$tmp/ro" && fail "not killed"
    chattr +i "$tmp/ro/$f"
    if "$clft" pretrain "${args[@]}" --out "$tmp/ro" 2> "$tmp/err"; then fail "$f read-only: the run went on"; fi
    one_error "$f\|Operation not permitted\|Permission denied"
    chattr -i "$tmp/ro/$f"
    resume "$tmp/ro"
    same_run "$tmp/ref" "$tmp/ro"
    echo "  $f read-only: $(tr -d '\n' < "$tmp/err" | cut -c1-150)"
  done
  echo "ok 2b a read-only file of each kind: one line, then resumed to the same files"
else
  echo "skip 2b: chattr +i is not supported on this file system"
fi

# ---- 3. corrupted checkpoints ----
CLFT_TEST_KILL_AT_STEP=20 "$clft" pretrain "${args[@]}" --out "$tmp/base" && fail "not killed"
latest="ckpt/epoch0002-step000000016.safetensors"
[ -f "$tmp/base/$latest" ] || fail "expected $latest"
corrupt() { # corrupt NAME CMD...: CMD makes $tmp/c/$latest from $tmp/base's
  local name=$1; shift
  rm -rf "$tmp/c"; cp -a "$tmp/base" "$tmp/c"
  "$@"
  "$clft" pretrain "${args[@]}" --out "$tmp/c" 2> "$tmp/err" || { cat "$tmp/err"; fail "$name: resume failed"; }
  grep -q "warning: .*renamed to .*corrupt, resuming from the previous checkpoint" "$tmp/err" ||
    { cat "$tmp/err"; fail "$name: no fallback warning"; }
  same_run "$tmp/ref" "$tmp/c"
  echo "  $name: $(head -n 1 "$tmp/err" | cut -c1-160)"
}
edit() { "$st_edit" "$tmp/base/$latest" "$tmp/c/$latest" "$@"; }
corrupt "truncated" sh -c "head -c 30000 '$tmp/base/$latest' > '$tmp/c/$latest'"
corrupt "header" sh -c "printf '\377\377\377\377\377\377\377\177' | dd of='$tmp/c/$latest' conv=notrunc status=none"
corrupt "non-finite" edit set encoder_q.conv1.weight 3 nan
corrupt "non-finite" edit set queue 100 nan
corrupt "non-finite" edit set optim.momentum_buffer 7 nan
corrupt "position" edit set position 0 9
corrupt "position" edit set position 2 99
corrupt "all zero" edit zero rng.ft
corrupt "all zero" edit zero rng.shuffle
corrupt "queue" edit shape queue 128 256
corrupt "format" edit meta format clft-checkpoint-2
corrupt "no tensor" edit drop encoder_k.fc.2.bias
corrupt "queue_ptr" edit set queue_ptr 0 999
echo "ok 3a every kind of corrupt checkpoint: set aside, resumed from the previous one, same files"
rm -rf "$tmp/c"; cp -a "$tmp/base" "$tmp/c"
cp "$tmp/c/train.csv" "$tmp/before.csv"
for change in "--seed 6" "--variant ft" "--set data.train_limit=448" "--set optim.lr=0.1"; do
  # shellcheck disable=SC2086
  if "$clft" pretrain "${args[@]}" $change --out "$tmp/c" 2> "$tmp/err"; then fail "resume with $change was accepted"; fi
  one_error "another configuration"
  cmp "$tmp/before.csv" "$tmp/c/train.csv" || fail "a refused resume changed train.csv"
  echo "  $change: $(cut -c1-160 < "$tmp/err")"
done
grep -q "run.seed (5 -> 6)" <("$clft" pretrain "${args[@]}" --seed 6 --out "$tmp/c" 2>&1) || fail "the mismatch does not name run.seed"
echo "ok 3b a resume with another configuration: one line naming the keys, nothing changed"

# ---- 4. one process per run; fresh starts ----
mkdir -p "$tmp/locked"
flock "$tmp/locked/.lock" sleep 30 &
holder=$!
sleep 0.5
if "$clft" pretrain "${args[@]}" --out "$tmp/locked" 2> "$tmp/err"; then fail "a second process ran in a locked directory"; fi
one_error "in use by another clft process"
kill "$holder" 2> /dev/null || true
echo "ok 4a a locked run directory: one line"
"$clft" pretrain "${args[@]}" --set optim.epochs=1 --out "$tmp/never" 2> /dev/null
"$clft" pretrain "${args[@]}" --set optim.epochs=1 --out "$tmp/never" --resume never 2> "$tmp/err"
grep -q "starts afresh in $tmp/never-2" "$tmp/err" || { cat "$tmp/err"; fail "--resume never did not start afresh beside"; }
[ -f "$tmp/never-2/train.csv" ] || fail "no run in never-2"
cmp "$tmp/never/scores.csv" "$tmp/never-2/scores.csv" || fail "the fresh run differs from the first"
echo "ok 4b --resume never beside an existing run"
if "$clft" pretrain "${args[@]}" --data fashion-mnist:/nosuchdata --out "$tmp/nodata" 2> /dev/null; then fail "bad data accepted"; fi
[ ! -e "$tmp/nodata" ] || fail "a run that failed before its first step left $tmp/nodata"
if "$clft" pretrain "${args[@]}" --set model.in_channels=3 --out "$tmp/badchan" 2> /dev/null; then fail "bad channels accepted"; fi
[ ! -e "$tmp/badchan" ] || fail "a run with bad channels left $tmp/badchan"
echo "ok 4c a run that fails before its first step leaves no directory"
mkdir -p "$tmp/zero"
: > "$tmp/zero/score_hist.csv"
printf 'epoch,step\n0,1\n' > "$tmp/zero/scores.csv"
"$clft" pretrain "${args[@]}" --out "$tmp/zero"
same_run "$tmp/ref" "$tmp/zero"
echo "ok 4d leftover CSVs of a run that never checkpointed (a 0-byte one too): a fresh start"
