#!/usr/bin/env bash
# same_results.sh OLD_CLFT NEW_CLFT [VARIANT ...] — do two builds train the same? For each variant
# (default: ft mochi) both binaries run the same short smoke pre-training (2 epochs of 2048 images,
# a row every step, the kNN monitor every epoch) and `clft eval --protocol knn,linear`; then
# train.csv (timing columns aside), scores.csv, score_hist.csv, eval.csv and every checkpoint
# tensor (elapsed_s aside, by tests/st_diff) must be byte-identical. Prints one line per file and
# exits 1 on the first difference. For refactors that must not change results. OLD_ARGS / NEW_ARGS
# (environment) add options to each side's pretrain, e.g. NEW_ARGS="--device cpu-im2col".
set -euo pipefail
old=$1; new=$2; shift 2
variants=${*:-ft mochi}
st_diff=$(dirname "$new")/st_diff
tmp=$(mktemp -d /tmp/clft-same-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
run() { # run BIN DIR VARIANT [PRETRAIN OPTIONS]
  local bin=$1 dir=$2 v=$3; shift 3
  "$bin" pretrain --baseline moco_v2 --variant "$v" --data fashion-mnist --preset smoke --seed 1 --quiet \
    --set data.train_limit=2048 --set optim.epochs=2 --set run.knn_every=1 --set run.log_every=1 \
    --out "$dir" "$@"
  "$bin" eval --run "$dir" --protocol knn,linear --quiet --train-limit 2048 > /dev/null
}
for v in $variants; do
  # shellcheck disable=SC2086
  run "$old" "$tmp/old_$v" "$v" ${OLD_ARGS:-}
  # shellcheck disable=SC2086
  run "$new" "$tmp/new_$v" "$v" ${NEW_ARGS:-}
  cmp <(cut -d, -f1-5 "$tmp/old_$v/train.csv") <(cut -d, -f1-5 "$tmp/new_$v/train.csv")
  for f in scores.csv score_hist.csv eval.csv; do cmp "$tmp/old_$v/$f" "$tmp/new_$v/$f"; done
  for c in "$tmp/old_$v"/ckpt/*.safetensors; do "$st_diff" "$c" "$tmp/new_$v/ckpt/$(basename "$c")" elapsed_s; done
  echo "$v: train.csv scores.csv score_hist.csv eval.csv and $(ls "$tmp/old_$v/ckpt" | wc -l) checkpoints identical"
done
