#!/usr/bin/env python3
"""bench_moco_torch.py — the PyTorch side of bench/bench_moco.c: a faithful MoCo v2 training step
(He et al. 2020, Chen et al. 2020; facebookresearch/moco builder.py) on clft's encoders, timed, as a
researcher would run it with the PyTorch from PyPI (make bench installs torch 2.15.0 into
.venv-bench/).

The step, as clft's core/train/moco.c: query encoder forward (split-BN), EMA of the key encoder
before the keys, key encoder forward under a random shuffle with split-BN, unshuffle, logits
[q·k, q·queueᵀ]/T, cross-entropy (InfoNCE), backward, SGD (momentum 0.9, weight decay 1e-4),
enqueue the keys. Split-BN as MoCo's own code writes it (facebookresearch/moco, the CIFAR demo's
SplitBatchNorm): ONE batch_norm call over the batch viewed as (N/G, C·G, H, W), the running
statistics repeated G times and averaged back.

Precision: fp32, or bf16 = torch.autocast("cpu", bfloat16) around the forward passes with the
encoders and inputs in channels_last (the fast bf16 path of PyTorch on CPUs with AVX512-BF16/AMX).

Networks (same definitions as clft's builder, core/model/model.c):
  mini      4 stages of 1 basic block, widths 16/32/64/128, small stem (3x3/1), 28x28x1 (the
            mini preset's encoder, configs/mini.ini)
  mini32    3 stages at widths 32/64/128 (the network issue 4's speed bar was first set on)
  resnet18  torchvision's resnet18 layout with the small stem (3x3/1 conv, no max-pool), 32x32x3
each with MoCo v2's MLP head feat -> feat -> ReLU -> 128 and L2 normalisation.

Prints one line: img_s=X rss_mb=Y (peak RSS of this process, ru_maxrss).
Usage: python3 bench/bench_moco_torch.py --net mini [--precision fp32|bf16] [--warmup 2 --steps 4
       --batch 256 --K 4096 --groups 8 --threads 2]
"""
import argparse
import os
import resource
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from moco_twin import Basic  # noqa: E402

G = 8


class SplitBatchNorm(nn.BatchNorm2d):
    """facebookresearch/moco's SplitBatchNorm (moco_cifar10_demo): one batch_norm over G splits."""

    def __init__(self, num_features, num_splits):
        super().__init__(num_features)
        self.num_splits = num_splits

    def forward(self, input):
        N, C, H, W = input.shape
        if self.training or not self.track_running_stats:
            running_mean_split = self.running_mean.repeat(self.num_splits)
            running_var_split = self.running_var.repeat(self.num_splits)
            outcome = F.batch_norm(
                input.reshape(-1, C * self.num_splits, H, W), running_mean_split,
                running_var_split, self.weight.repeat(self.num_splits),
                self.bias.repeat(self.num_splits), True, self.momentum,
                self.eps).reshape(N, C, H, W)
            self.running_mean.data.copy_(running_mean_split.view(self.num_splits, C).mean(dim=0))
            self.running_var.data.copy_(running_var_split.view(self.num_splits, C).mean(dim=0))
            return outcome
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            False, self.momentum, self.eps)


class Encoder(nn.Module):
    """ResNet with the small-image stem; `blocks` basic blocks per stage; MLP head; L2 norm."""

    def __init__(self, cin, width, blocks, dim=128):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False)
        self.bn1 = SplitBatchNorm(width, G)
        layers, c = [], width
        for s, nb in enumerate(blocks):
            planes = width << s
            seq = []
            for b in range(nb):
                seq.append(Basic(c, planes, 2 if (s > 0 and b == 0) else 1, G, bn=SplitBatchNorm))
                c = planes
            layers.append(nn.Sequential(*seq))
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, dim))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        return F.normalize(self.fc(x.mean(dim=(2, 3))), dim=1)


NETS = {"mini": dict(cin=1, width=16, blocks=[1, 1, 1, 1], size=28),
        "mini32": dict(cin=1, width=32, blocks=[1, 1, 1], size=28),
        "resnet18": dict(cin=3, width=64, blocks=[2, 2, 2, 2], size=32)}


def main():
    global G
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=sorted(NETS), required=True)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--K", type=int, default=4096)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    a = ap.parse_args()
    G = a.groups
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = NETS[a.net]
    N, K, T, M, D = a.batch, a.K, 0.2, 0.99, 128
    enc_q = Encoder(cfg["cin"], cfg["width"], cfg["blocks"], D)
    enc_k = Encoder(cfg["cin"], cfg["width"], cfg["blocks"], D)
    enc_k.load_state_dict(enc_q.state_dict())
    for p in enc_k.parameters():
        p.requires_grad = False
    queue = F.normalize(torch.randn(K, D), dim=1)
    ptr = 0
    opt = torch.optim.SGD(enc_q.parameters(), lr=0.03, momentum=0.9, weight_decay=1e-4)
    s = cfg["size"]
    x1, x2 = torch.randn(N, cfg["cin"], s, s), torch.randn(N, cfg["cin"], s, s)
    labels = torch.zeros(N, dtype=torch.long)
    bf16 = a.precision == "bf16"
    if bf16:
        cl = torch.channels_last
        enc_q, enc_k = enc_q.to(memory_format=cl), enc_k.to(memory_format=cl)
        x1, x2 = x1.contiguous(memory_format=cl), x2.contiguous(memory_format=cl)

    def step():
        nonlocal ptr
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            q = enc_q(x1).float()
        with torch.no_grad():
            for pq, pk in zip(enc_q.parameters(), enc_k.parameters()):
                pk.mul_(M).add_(pq.detach(), alpha=1 - M)
            perm = torch.randperm(N)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                k_shuf = enc_k(x2[perm]).float()
            k = torch.empty_like(k_shuf)
            k[perm] = k_shuf
        logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.t()], dim=1) / T
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        queue[ptr:ptr + N] = k
        ptr = (ptr + N) % K
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"img_s={N * a.steps / dt:.3f} rss_mb={rss:.1f} loss={loss:.4f} torch={torch.__version__} "
          f"threads={torch.get_num_threads()}")


if __name__ == "__main__":
    main()
