#!/usr/bin/env bash
# bench_dist.sh BUILD [STEPS] [ROUNDS] — data parallel on this machine (issue 17): the mini preset's
# MoCo v2 step (4-stage 16/32/64/128 ResNet, global batch 128, 8 split-BN groups) as
#   one process x 2 threads        (run.threads=2, 2 loader workers)
#   mpirun -np 2, 1 thread each    (run.threads=1, 1 loader worker each; 64 images per rank)
#   one process x 1 thread         (for scale)
# interleaved ROUNDS times (default 2), STEPS steps each (default 20). Prints key=value lines:
# img/s over the steps after the first (from train.csv's elapsed_s), and for the 2-rank runs each
# rank's share of the training time spent inside collectives (all-gathers of the key batch and the
# keys, the gradient all-reduce, the statistics; waiting for the other rank included), from the
# "data parallel:" line rank 0 prints. Not a test; the load of the machine is printed with it.
set -euo pipefail
build=${1:-build}
steps=${2:-20}
rounds=${3:-2}
clft="$build/clft"
command -v mpirun > /dev/null || { echo "bench_dist: skipped: no mpirun (apt-get install openmpi-bin)"; exit 0; }
[ -x "$clft" ] || { echo "bench_dist: skipped: no $clft (build first)"; exit 0; }
"$clft" --version | grep -q '^data parallel.*: *none' &&
  { echo "bench_dist: skipped: $clft was built without MPI"; exit 0; }
tmp=$(mktemp -d /tmp/clft-bench-dist-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
args=(--baseline moco_v2 --data fashion-mnist --preset mini --seed 1 --set optim.epochs=1
      --set data.train_limit=$((128 * steps)) --set run.log_every=1 --set run.ckpt_every=1)
# img/s over rows 2..last of train.csv: the first step (allocation, planning) left out
rate() { awk -F, 'NR == 2 { t0 = $7; s0 = $2 } NR > 2 { t = $7; s = $2 } END { printf "%.1f", (s - s0) * 128 / (t - t0) }' "$1/train.csv"; }
echo "bench_dist: mini preset, $steps steps of 128 images, $rounds rounds; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$rounds"); do
  "$clft" pretrain "${args[@]}" --quiet --set run.threads=2 --set data.workers=2 --out "$tmp/one2_$r"
  echo "round=$r one_process_2_threads_img_per_s=$(rate "$tmp/one2_$r")"
  mpirun --oversubscribe --bind-to none -np 2 "$clft" pretrain "${args[@]}" --set run.threads=1 \
    --set data.workers=1 --out "$tmp/two1_$r" > /dev/null 2> "$tmp/two1_$r.err"
  comm=$(grep "^data parallel:" "$tmp/two1_$r.err" | sed 's/.*in collectives: //')
  echo "round=$r two_ranks_1_thread_img_per_s=$(rate "$tmp/two1_$r") comm=\"$comm\""
  "$clft" pretrain "${args[@]}" --quiet --set run.threads=1 --set data.workers=1 --out "$tmp/one1_$r"
  echo "round=$r one_process_1_thread_img_per_s=$(rate "$tmp/one1_$r")"
done
echo "bench_dist: load after: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores)"
