#!/usr/bin/python3
"""gen_golden_resnet.py — golden values for tests/test_model.c from PyTorch (Debian's python3-torch).

For a small-width resnet18 (width 4: channels 4/8/16/32) with each stem on a fixed input, writes,
for 3 steps of SGD (lr 0.05, momentum 0.9, weight decay 1e-4) on the loss of a fixed linear probe +
cross entropy: the parameters before each step (p0., p1., p2.<name>) and after the last (p3.), every
parameter gradient of each step (g0., g1., g2.<name>), the losses, the pooled features of step 0
and the BN running statistics after step 0's training-mode forward (b.<name>).

The C test feeds each step the parameters torch had (teacher forcing): this tiny network is
ill-conditioned after one step (a 1e-6 relative change of the parameters moves some gradients by
2%, measured), so float32 rounding differences between two correct implementations would otherwise
compound; the SGD update itself is checked against torch's next parameters at every step. Also writes the names and shapes of torchvision's resnet18/resnet50
state_dicts so the C builder's naming is pinned to torchvision's.

Run from the repository root:  /usr/bin/python3 tests/gen_golden_resnet.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

sys.path.insert(0, os.path.dirname(__file__))
from st_write import save  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "fixtures")


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
        s = x if self.downsample is None else self.downsample(x)
        return F.relu(y + s)


class ResNet18(nn.Module):
    """torchvision's resnet18 layout with a width multiplier and a choice of stem."""

    def __init__(self, width, stem, cin=3):
        super().__init__()
        self.stem = stem
        k, s, p = (7, 2, 3) if stem == "imagenet" else (3, 1, 1)
        self.conv1 = nn.Conv2d(cin, width, k, s, p, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        c = width
        for i in range(4):
            planes = width << i
            blocks = [Basic(c, planes, 1 if i == 0 else 2), Basic(planes, planes, 1)]
            setattr(self, f"layer{i + 1}", nn.Sequential(*blocks))
            c = planes
        self.feat_dim = c

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        if self.stem == "imagenet":
            x = F.max_pool2d(x, 3, 2, 1)
        for i in range(4):
            x = getattr(self, f"layer{i + 1}")(x)
        return x.mean(dim=(2, 3))


def make_case(stem, H, seed):
    torch.manual_seed(seed)
    net = ResNet18(4, stem)
    for m in net.modules():  # non-trivial BN affine parameters so their gradients are tested
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    N = 4
    x = torch.randn(N, 3, H, H)
    labels = torch.tensor([1, 7, 3, 1])
    probe = nn.Linear(net.feat_dim, 10)
    out = {"x": x, "labels": labels.float(), "probe.weight": probe.weight, "probe.bias": probe.bias}
    params = {n: p for n, p in net.named_parameters()}
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    losses = []
    for step in range(3):
        for n, p in params.items():
            out[f"p{step}.{n}"] = p.detach().clone()
        opt.zero_grad()
        feats = net(x)
        loss = F.cross_entropy(probe(feats), labels)
        loss.backward()
        if step == 0:
            out["features"] = feats.detach().clone()
            for n, b in net.named_buffers():
                if "running" in n:
                    out["b." + n] = b.detach().clone()
        for n, p in params.items():
            out[f"g{step}.{n}"] = p.grad.detach().clone()
        losses.append(loss.item())
        opt.step()
    out["losses"] = torch.tensor(losses)
    for n, p in params.items():
        out["p3." + n] = p.detach().clone()
    save(os.path.join(OUT, f"resnet18w4_{stem}.safetensors"), out,
         {"generator": "tests/gen_golden_resnet.py", "torch": torch.__version__})


def torchvision_names():
    out = {}
    for arch in ("resnet18", "resnet50"):
        sd = getattr(torchvision.models, arch)().state_dict()
        names = [n for n in sd if not n.startswith("fc.") and not n.endswith("num_batches_tracked")]
        out[arch] = "\n".join(f"{n} {','.join(str(d) for d in sd[n].shape)}" for n in names)
    for arch, text in out.items():
        with open(os.path.join(OUT, f"torchvision_{arch}_names.txt"), "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    torch.set_num_threads(1)
    make_case("small", 32, 1)
    make_case("imagenet", 64, 2)
    torchvision_names()
