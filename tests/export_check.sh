#!/bin/sh
# export_check.sh — `clft export --format torchvision` end to end (issue 6): pre-train two tiny runs,
# export each backbone with a features file, and let tests/check_export.py load the weights into
# PyTorch (torchvision's own resnet18 for the width-64 ImageNet-stem run; a same-named twin for
# the smoke preset's resnet_small) and compare features within 1e-4. Exit 77 (ctest: skipped) when
# /usr/bin/python3 cannot import torch and torchvision.
#   usage: tests/export_check.sh BUILD_DIR      (run from the repository root)
set -eu
clft="$1/clft"
py=/usr/bin/python3
if ! [ -x "$py" ] || ! "$py" -c "import torch, torchvision" 2>/dev/null; then
    echo "export_check: $py cannot import torch and torchvision: skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clft-export-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$clft" pretrain --baseline moco_v2 --data fashion-mnist --preset smoke --out "$tmp/small" --quiet \
    --set optim.epochs=1 --set data.train_limit=512
"$clft" pretrain --baseline moco_v2 --data synthetic:32x32x3:64:4 --preset smoke --out "$tmp/r18" \
    --quiet --set model.arch=resnet18 --set model.stem=imagenet --set model.width=64 \
    --set optim.batch=16 --set moco.K=32 --set moco.shuffle_groups=2 --set optim.epochs=1 \
    --set data.train_limit=0
for run in small r18; do
    "$clft" export --run "$tmp/$run" --format torchvision --features "$tmp/$run/features.safetensors"
    test -f "$tmp/$run/export/backbone_torchvision.safetensors"
    "$py" tests/check_export.py "$tmp/$run/export/backbone_torchvision.safetensors" \
        "$tmp/$run/features.safetensors"
done
