#!/usr/bin/env bash
# test_dist.sh — data-parallel pre-training under mpirun (issue 17; core/dist/dist.h):
#   1. equivalence: `mpirun -np 2` (1 thread each, the global batch of 64 split 32 + 32, 4 split-BN
#      groups per rank) against one process with the same config (batch 64, 8 groups: its groups
#      are the ranks' batches), plain MoCo v2 and + FT, 10 steps: the same loss trajectory, score
#      moments, histograms and final parameters within the tolerances below (the summation order
#      differs, nothing else); `mpirun -np 1` is the plain single process, byte for byte;
#   2. a SIGKILL of rank 1 of 2 mid-epoch: both ranks exit, non-zero, within a bounded time, mpirun
#      names rank 1, the last checkpoint is intact, and `--resume auto` under mpirun -np 2 ends
#      with the same files as the uninterrupted 2-rank run (bit for bit: the same computation);
#   3. bad input: a corrupt JPEG that one rank's shard reads (one line from that rank naming the
#      file, every rank stops, the last checkpoint intact), a NaN image on rank 1 (one line, every
#      rank stops at that step, the checkpoint intact), rank 1 started with another configuration
#      (one line from rank 1, no run directory left), a resume with another number of processes
#      (one line: world_size differs), a rank that hangs (SIGSTOP: rank 0's watchdog stops the
#      job after --dist-timeout, one line naming rank 1);
#   4. on a GPU machine (skipped elsewhere): the same through NCCL, one rank per GPU (a power of two
#      up to 8; CLFT_DIST_FORCE makes one GPU a communicator of one rank), against one cuda process.
# Tolerances. The runs differ by the order of float sums only (the all-reduce adds two partial
# gradients; a convolution over 32 images may block its sums unlike one over 64), and training
# amplifies such differences step by step: over seeds 5-9 here (both variants, 10 steps) the
# 2-rank run differed from the 1-process run by up to 2.2e-4 in the loss, 1.3e-2 in a score
# variance and 5e-2 in a tensor, and the 1-process run with 2 threads instead of 1 differed from
# it by as much (1.6e-4, 1.3e-2, 2.6e-2): the chaos of the training, not the data parallelism. The
# test therefore holds
#   - steps 1-2 (the forward of the same samples and groups, the combination of the statistics,
#     one averaged gradient) to 1e-5 relative in every column (seen: 1.1e-6);
#   - later steps, at seed 5: the loss and score means to 1e-4 relative (seen 4.3e-8), the score
#     variances to 1e-2 (seen 2.1e-6), inst_acc to 2/64 absolute (seen 0);
#   - the final tensors to 1e-2 normalised, max|a-b|/max|a| per tensor (seen 2.2e-4, an FT run's
#     BN bias), the histogram counts moved between bins to 1e-3 of all counts (seen 1.8e-5).
# A bug of the data-parallel step (a wrong shuffle, groups, gradient scale or queue) shows at
# step 1 or 2, far above these.
# Skips (77) without mpirun or without an MPI build. Run by ctest with CLFT_BUILD_DIR set.
set -euo pipefail
clft="$CLFT_BUILD_DIR/clft"
st_diff="$CLFT_BUILD_DIR/st_diff"
command -v mpirun > /dev/null || { echo "SKIP: no mpirun (apt-get install openmpi-bin)"; exit 77; }
"$clft" --version | grep -q "data parallel: MPI" || { echo "SKIP: clft built without MPI"; exit 77; }
tmp=$(mktemp -d /tmp/clft-dist-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 # root in CI containers
mpi() { mpirun --oversubscribe --bind-to none "$@"; }           # 1-thread ranks on a small machine
CSV_EARLY=1e-5 CSV_TOL=1e-4 VAR_TOL=1e-2 ST_TOL=1e-2 HIST_TOL=1e-3
base=(--baseline moco_v2 --data fashion-mnist --preset smoke --quiet --set optim.batch=64
      --set run.log_every=1 --set model.width=4 --set moco.K=256 --set run.threads=1
      --set data.workers=1)
last_ckpt() { ls "$1"/ckpt/*.safetensors | sort | tail -n 1; }
# close_csv A B FIRST_COLUMN: the values from column FIRST_COLUMN on within the tolerances above
close_csv() {
  paste -d, "$1" "$2" | awk -F, -v from="$3" -v early="$CSV_EARLY" -v tol="$CSV_TOL" -v vtol="$VAR_TOL" '
    NR == 1 { n = NF / 2; for (i = 1; i <= n; i++) name[i] = $i; next }
    { for (i = from; i <= n; i++) {
        a = $i; b = $(i + n); d = a - b; d = d < 0 ? -d : d
        if (name[i] == "inst_acc") { if (d > 2 / 64 + 1e-12) { bad = 1; what = name[i] " row " NR }; continue }
        s = a < 0 ? -a : a; r = d / (s < 1e-6 ? 1e-6 : s)
        t = $2 <= 2 ? early : name[i] ~ /var/ ? vtol : tol
        if (r / t > worst) { worst = r / t; col = name[i]; row = NR; rel = r }
        if (r > t) { bad = 1; what = name[i] " row " NR } } }
    END { if (worst == 0) print "  every value identical"
          else printf "  closest to its tolerance: %s, row %d, relative difference %.2e\n", col, row, rel
          if (bad) print "  over: " what; exit bad }' ||
    fail "$1 vs $2: a value differs by more than its tolerance"
}
close_hist() { # the counts that moved between bins, against all counts
  paste -d, "$1" "$2" | awk -F, -v tol="$HIST_TOL" '
    NR > 1 { d = $5 - $10; moved += d < 0 ? -d : d; all += $5 }
    END { printf "  histogram counts moved: %d of %d\n", moved, all; exit !(moved <= tol * all) }' ||
    fail "$1 vs $2: histograms differ by more than $HIST_TOL"
}
same_run() { # bit for bit (timing columns aside)
  cmp <(cut -d, -f1-5 "$1/train.csv") <(cut -d, -f1-5 "$2/train.csv") || fail "$1 vs $2: train.csv differs"
  for f in scores.csv score_hist.csv; do cmp "$1/$f" "$2/$f" || fail "$1 vs $2: $f differs"; done
  for c in "$1"/ckpt/*.safetensors; do
    "$st_diff" "$c" "$2/ckpt/$(basename "$c")" elapsed_s || fail "$2: $(basename "$c") differs"
  done
}
expect_one_line() { # expect_one_line FILE PATTERN: exactly one "clft:" line, matching PATTERN
  [ "$(grep -c '^clft:' "$1")" -eq 1 ] || { cat "$1"; fail "expected one clft: line in $1"; }
  grep '^clft:' "$1" | grep -q -- "$2" || { cat "$1"; fail "the error does not say '$2'"; }
  echo "  $(grep '^clft:' "$1")"
}

# ---- 1. equivalence: 10 steps (640 images, batch 64) ----
eq=("${base[@]}" --set data.train_limit=640 --set optim.epochs=1)
for v in none ft; do
  for seed in ${CLFT_DIST_SEEDS:-5}; do
    "$clft" pretrain "${eq[@]}" --variant "$v" --seed "$seed" --out "$tmp/one_$v$seed"
    mpi -np 2 "$clft" pretrain "${eq[@]}" --variant "$v" --seed "$seed" --out "$tmp/two_$v$seed"
    grep -q "^# world_size: 2 " "$tmp/two_$v$seed/config.ini" || fail "config.ini does not record world_size 2"
    echo "variant $v, seed $seed, 1 process vs 2 ranks:"
    close_csv <(cut -d, -f1-5 "$tmp/one_$v$seed/train.csv") <(cut -d, -f1-5 "$tmp/two_$v$seed/train.csv") 4
    close_csv "$tmp/one_$v$seed/scores.csv" "$tmp/two_$v$seed/scores.csv" 3
    close_hist "$tmp/one_$v$seed/score_hist.csv" "$tmp/two_$v$seed/score_hist.csv"
    "$st_diff" --tol "$ST_TOL" "$(last_ckpt "$tmp/one_$v$seed")" "$(last_ckpt "$tmp/two_$v$seed")" elapsed_s |
      sed 's/^/  /' || fail "variant $v: parameters differ by more than $ST_TOL"
  done
done
mpi -np 1 "$clft" pretrain "${eq[@]}" --variant ft --seed 5 --out "$tmp/np1"
same_run "$tmp/one_ft5" "$tmp/np1"
# the data-parallel step itself with one rank (CLFT_DIST_FORCE): the same training, bit for bit
# (only the combination of the reported moments rounds differently)
CLFT_DIST_FORCE=1 mpi -np 1 "$clft" pretrain "${eq[@]}" --variant ft --seed 5 --out "$tmp/force1"
grep -q "^# world_size: 1 .*transport mpi" "$tmp/force1/config.ini" || fail "the forced run has no communicator"
cmp <(cut -d, -f1-5 "$tmp/one_ft5/train.csv") <(cut -d, -f1-5 "$tmp/force1/train.csv") || fail "forced -np 1: train.csv differs"
"$st_diff" "$(last_ckpt "$tmp/one_ft5")" "$(last_ckpt "$tmp/force1")" elapsed_s || fail "forced -np 1: tensors differ"
close_csv "$tmp/one_ft5/scores.csv" "$tmp/force1/scores.csv" 3
echo "ok 1 equivalence: 2 ranks = 1 process within tolerance; -np 1 = 1 process exactly"

# ---- 2. SIGKILL of rank 1 after step 11 (epoch 1, 3 steps past the epoch-0 checkpoint) ----
kt=("${base[@]}" --set data.train_limit=512 --set optim.epochs=3 --seed 3)
mpi -np 2 "$clft" pretrain "${kt[@]}" --out "$tmp/ref"
start=$(date +%s)
if CLFT_TEST_KILL_AT_STEP=11 CLFT_TEST_KILL_RANK=1 mpi -np 2 "$clft" pretrain "${kt[@]}" --out "$tmp/kill" \
   2> "$tmp/kill.err"; then fail "mpirun should have failed"; fi
took=$(( $(date +%s) - start ))
[ "$took" -le 60 ] || fail "the killed job took $took s to stop"
grep -q "rank 1 .*signal 9" "$tmp/kill.err" || { cat "$tmp/kill.err"; fail "mpirun does not name rank 1"; }
! pgrep -f "$tmp/kill" > /dev/null || fail "a rank of the killed job is still running"
[ "$(ls "$tmp/kill/ckpt" | wc -l)" -eq 1 ] || fail "expected exactly the epoch-0 checkpoint after the kill"
"$st_diff" "$(last_ckpt "$tmp/kill")" "$tmp/ref/ckpt/$(basename "$(last_ckpt "$tmp/kill")")" elapsed_s ||
  fail "the checkpoint left by the kill is not the uninterrupted run's"
echo "  killed job stopped in $took s: $(grep -o 'process rank 1[^.]*' "$tmp/kill.err")"
mpi -np 2 "$clft" pretrain "${kt[@]}" --out "$tmp/kill" --resume auto
same_run "$tmp/ref" "$tmp/kill"
echo "ok 2 SIGKILL of rank 1: both stop, the checkpoint is intact, the resumed run = the uninterrupted one"

# ---- 3. bad input ----
# a corrupt JPEG (cut to 300 bytes: the reader says truncated) in epoch 1 of an image folder: the
# one rank whose shard holds it names itself and the file, every rank stops, the epoch-0
# checkpoint stays as it was
"$CLFT_BUILD_DIR/mk_jpegs" "$tmp/jpegs" 2 128 32
jp=("${base[@]}" --data "imagefolder:$tmp/jpegs" --set data.size=32 --set optim.batch=32
    --set optim.epochs=3 --seed 3)
CLFT_TEST_KILL_AT_STEP=11 mpi -np 2 "$clft" pretrain "${jp[@]}" --out "$tmp/jpg" 2> /dev/null &&
  fail "the JPEG run should have been killed"
cp "$(last_ckpt "$tmp/jpg")" "$tmp/jpg_epoch0.safetensors"
head -c 300 "$tmp/jpegs/train/c1/img_7.JPEG" > "$tmp/cut.JPEG"
mv "$tmp/cut.JPEG" "$tmp/jpegs/train/c1/img_7.JPEG"
if mpi -np 2 "$clft" pretrain "${jp[@]}" --out "$tmp/jpg" 2> "$tmp/jpg.err"; then
  fail "the run over a corrupt JPEG should have failed"
fi
expect_one_line "$tmp/jpg.err" "rank [01] of 2: .*img_7.JPEG: truncated JPEG"
"$st_diff" "$tmp/jpg_epoch0.safetensors" "$(last_ckpt "$tmp/jpg")" || fail "the failure damaged the checkpoint"
# a NaN image on rank 1 in step 11: every rank stops at the same step with one line (the NaN
# guard of the loss or of the weights, which the all-reduce shares), the checkpoint intact
if CLFT_TEST_NAN_INPUT=1:11 mpi -np 2 "$clft" pretrain "${kt[@]}" --out "$tmp/nan" 2> "$tmp/nan.err"; then
  fail "the NaN run should have failed"
fi
expect_one_line "$tmp/nan.err" "rank 0 of 2: .*\(loss is nan on rank 1\|non-finite value\) at epoch 1, step 11"
"$st_diff" "$(last_ckpt "$tmp/nan")" "$tmp/ref/ckpt/$(basename "$(last_ckpt "$tmp/nan")")" elapsed_s ||
  fail "the NaN run damaged its last checkpoint"
# rank 1 started with another learning rate: refused before anything is created
if mpi -np 1 "$clft" pretrain "${kt[@]}" --out "$tmp/mixed" : -np 1 "$clft" pretrain "${kt[@]}" \
   --set optim.lr=0.1 --out "$tmp/mixed" 2> "$tmp/mixed.err"; then fail "mixed configurations should fail"; fi
expect_one_line "$tmp/mixed.err" "rank 1 of 2: its configuration differs from rank 0's.*optim.lr"
[ ! -e "$tmp/mixed" ] || fail "a refused start left $tmp/mixed"
# another world size on resume, both ways
if "$clft" pretrain "${kt[@]}" --out "$tmp/kill" 2> "$tmp/ws1.err"; then fail "a 1-process resume of a 2-rank run should fail"; fi
expect_one_line "$tmp/ws1.err" "world_size differs.*mpirun -np 2"
"$clft" pretrain "${kt[@]}" --set optim.epochs=1 --out "$tmp/single"
if mpi -np 2 "$clft" pretrain "${kt[@]}" --set optim.epochs=1 --out "$tmp/single" 2> "$tmp/ws2.err"; then
  fail "a 2-rank resume of a 1-process run should fail"
fi
expect_one_line "$tmp/ws2.err" "rank 0 of 2: .*world_size differs.*one process"
# rank 1 hangs (SIGSTOP after step 11): rank 0's watchdog stops the job after the timeout
start=$(date +%s)
if CLFT_TEST_KILL_AT_STEP=11 CLFT_TEST_KILL_RANK=1 CLFT_TEST_KILL_SIGNAL=STOP \
   mpi -np 2 "$clft" pretrain "${kt[@]}" --dist-timeout 5 --out "$tmp/hang" 2> "$tmp/hang.err"; then
  fail "the hung job should have failed"
fi
took=$(( $(date +%s) - start ))
expect_one_line "$tmp/hang.err" "rank 0 of 2: .* waited 5 s for rank 1"
[ "$took" -le 60 ] || fail "the hung job took $took s to stop"
! pgrep -f "$tmp/hang" > /dev/null || fail "a rank of the hung job is still running"
echo "  hung job stopped in $took s"
echo "ok 3 bad input: NaN on one rank, mixed configurations, another world size, a hung rank"

# ---- 4. NCCL: every GPU of this machine a rank (skipped without a GPU) ----
gpus=$(nvidia-smi -L 2> /dev/null | grep -c "^GPU" || true)
if [ "${gpus:-0}" -eq 0 ] || ! "$clft" --version | grep -q "NCCL"; then
  echo "skip 4 NCCL: no GPU here (nvidia-smi) or a build without NCCL"
  exit 0
fi
R=1; while [ $((R * 2)) -le "$gpus" ] && [ $((R * 2)) -le 8 ]; do R=$((R * 2)); done # divides 64 and 8
cu=("${eq[@]}" --device cuda --variant ft --seed 5)
"$clft" pretrain "${cu[@]}" --out "$tmp/cuda_one"
CLFT_DIST_FORCE=1 mpi -np "$R" "$clft" pretrain "${cu[@]}" --out "$tmp/cuda_nccl"
grep -q "^# world_size: $R .*transport nccl" "$tmp/cuda_nccl/config.ini" || fail "the cuda ranks did not use NCCL"
echo "variant ft on cuda, 1 process vs $R NCCL rank(s) ($gpus GPUs here):"
close_csv <(cut -d, -f1-5 "$tmp/cuda_one/train.csv") <(cut -d, -f1-5 "$tmp/cuda_nccl/train.csv") 4
close_csv "$tmp/cuda_one/scores.csv" "$tmp/cuda_nccl/scores.csv" 3
"$st_diff" --tol "$ST_TOL" "$(last_ckpt "$tmp/cuda_one")" "$(last_ckpt "$tmp/cuda_nccl")" elapsed_s |
  sed 's/^/  /' || fail "cuda: parameters differ by more than $ST_TOL"
echo "ok 4 NCCL: $R cuda rank(s) = 1 cuda process within tolerance"
