#!/usr/bin/python3
"""check_export.py — does a `clft export --format torchvision` file load into PyTorch and reproduce
clft's features? (issue 6; PAPER.md §5: the backbone is exported for detectron2/torchvision.)

    /usr/bin/python3 tests/check_export.py EXPORT.safetensors FEATURES.safetensors

EXPORT: the exported backbone (torchvision names, no fc; metadata arch, stem, width, stages,
blocks, in_channels). FEATURES: `clft export --features`: `input` (N, C, H, W) and clft's
`features` (N, D). For arch resnet18/34/50 at width 64, 3 channels and the ImageNet stem, the model
is torchvision.models.resnetXX itself (fc replaced by identity); otherwise (clft's resnet_small,
other widths, the small stem, grey input) an equivalent module with the same parameter names is
built. The weights are loaded with load_state_dict(strict=False) — only num_batches_tracked and fc
may be missing — the input runs in eval mode and the features must agree within 1e-4 relative
error (max |diff| / max |reference|). Exit 0 on success, 1 on a mismatch, 77 without torch.
"""
import os
import sys

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError:
    print("check_export: torch/torchvision not available: skipped")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from st_read import load  # noqa: E402

TOL = 1e-4


class Basic(nn.Module):
    def __init__(self, cin, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or cin != planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, planes, 1, stride, bias=False),
                                            nn.BatchNorm2d(planes))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Twin(nn.Module):
    """clft's basic-block ResNets (resnet18/34, resnet_small) with any width, stem and channels."""

    def __init__(self, blocks, width, stem, cin):
        super().__init__()
        k, s, p = (7, 2, 3) if stem == "imagenet" else (3, 1, 1)
        self.stem = stem
        self.conv1 = nn.Conv2d(cin, width, k, s, p, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        c, self.n = width, len(blocks)
        for i, nb in enumerate(blocks):
            planes = width << i
            layers = [Basic(c if b == 0 else planes, planes, 2 if (i > 0 and b == 0) else 1)
                      for b in range(nb)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*layers))
            c = planes

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.stem == "imagenet":
            x = F.max_pool2d(x, 3, 2, 1)
        for i in range(self.n):
            x = getattr(self, f"layer{i + 1}")(x)
        return x.mean(dim=(2, 3))


def build(meta):
    arch, stem = meta["arch"], meta["stem"]
    width, cin = int(meta["width"]), int(meta["in_channels"])
    if arch in ("resnet18", "resnet34", "resnet50") and width == 64 and cin == 3 and stem == "imagenet":
        net = getattr(torchvision.models, arch)()
        net.fc = nn.Identity()
        return net, f"torchvision.models.{arch}"
    if arch == "resnet_small":
        blocks = [int(meta["blocks"])] * int(meta["stages"])
    elif arch in ("resnet18", "resnet34"):
        blocks = [2, 2, 2, 2] if arch == "resnet18" else [3, 4, 6, 3]
    else:
        sys.exit(f"check_export: no twin for {arch} at width {width}, {cin} channels, {stem} stem")
    return Twin(blocks, width, stem, cin), f"twin of {arch} (width {width}, {stem} stem, {cin} ch)"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    state, meta = load(sys.argv[1])
    ref, _ = load(sys.argv[2])
    net, what = build(meta)
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        print(f"check_export: {what}: missing {missing}, unexpected {unexpected}")
        return 1
    net.eval()
    with torch.no_grad():
        out = net(ref["input"])
    err = (out - ref["features"]).abs().max().item() / max(ref["features"].abs().max().item(), 1e-12)
    print(f"check_export: {what}: {len(state)} tensors, features {tuple(out.shape)}, "
          f"relative error {err:.3g} (tolerance {TOL:g})")
    return 0 if err <= TOL else 1


if __name__ == "__main__":
    sys.exit(main())
