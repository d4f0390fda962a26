#!/usr/bin/python3
"""bench_moco_torch.py — the PyTorch side of bench/bench_moco.c: a faithful MoCo v2 training step
(He et al. 2020, Chen et al. 2020; facebookresearch/moco builder.py) on clft's encoders, timed, on
the CPU or a GPU, optionally with FT (Zhu et al. 2021) as clft's variant `ft` does it.

The step, as clft's core/train/moco.c: query encoder forward (split-BN), EMA of the key encoder
before the keys, key encoder forward under a random shuffle with split-BN, unshuffle, logits
[q·k, q·queueᵀ]/T, cross-entropy (InfoNCE), backward, SGD (momentum 0.9, weight decay 1e-4),
enqueue the keys. Split-BN: each BN cuts the batch into G contiguous sub-batches with their own
statistics (as tests/gen_golden_moco.py, the golden twin of clft's split-BN).

Networks (same definitions as clft's builder, core/model/model.c):
  mini      4 stages of 1 basic block, widths 16/32/64/128, small stem (3x3/1), 28x28x1 (the
            mini preset's encoder, configs/mini.ini)
  mini32    3 stages at widths 32/64/128 (the network issue 4's speed bar was first set on)
  resnet18  torchvision's resnet18 layout with the small stem (3x3/1 conv, no max-pool), 32x32x3
  resnet50  torchvision's resnet50 (v1.5 bottlenecks, 7x7/2 stem + 3x3/2 max-pool), 224x224x3
each with MoCo v2's MLP head feat -> feat -> ReLU -> 128 and L2 normalisation.

--variant ft: FT's default arm (variants/ft.h): q̂ = λq + (1−λ)k, k̂ = λk + (1−λ)q with
λ = 1 + Beta(2, 2), queuê = μ queue + (1−μ) queue[perm] with μ = Beta(1.6, 1.6) and a fresh
permutation each step; the gradient reaches q through q̂ and k̂. (clft also records the score
statistics every step; this twin does not.)

--device cuda: the same step on the GPU, timed between torch.cuda.synchronize() calls;
--precision fp32 (TF32 off for matmuls and cuDNN), tf32 (TF32 on for both; GPU only), bf16
(autocast to bfloat16, CPU or GPU, with the encoders and inputs in channels_last). Split-BN is
facebookresearch/moco's SplitBatchNorm on every device (one batch norm over the batch viewed as
(N/G, G·C, H, W): its groups interleave the samples where clft's are contiguous — the same cost).
cuDNN's algorithms come from its heuristics (cudnn.benchmark off, PyTorch's default), as clft's
do. PyTorch: 2.15.0 from PyPI (make bench installs it into .venv-bench/).

Prints one line: img_s=X rss_mb=Y [gpu_mb=Z] (peak RSS of this process, ru_maxrss; on a GPU the
peak of torch.cuda.max_memory_allocated).
Usage: python3 bench/bench_moco_torch.py --net mini [--warmup 2 --steps 4 --batch 256 --K 4096
       --groups 8 --device cpu|cuda --precision fp32|tf32|bf16 --variant none|ft]
"""
import argparse
import contextlib
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
    """facebookresearch/moco's SplitBatchNorm (moco_cifar10_demo; main_moco.py's shuffle-BN
    emulation): ONE batch_norm over the batch viewed as (N/G, C·G, H, W); the running statistics
    repeated G times and averaged back. A channels_last input cannot be viewed so: reshape copies
    it (what the demo's code needs to run at all on channels_last)."""

    def __init__(self, planes, groups):
        super().__init__(planes)
        self.groups = groups

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        N, C, H, W = x.shape
        G = self.groups
        rm, rv = self.running_mean.repeat(G), self.running_var.repeat(G)
        y = F.batch_norm(x.reshape(-1, C * G, H, W), rm, rv, self.weight.repeat(G),
                         self.bias.repeat(G), True, self.momentum, self.eps).reshape(N, C, H, W)
        with torch.no_grad():
            self.running_mean.copy_(rm.view(G, C).mean(0))
            self.running_var.copy_(rv.view(G, C).mean(0))
        return y


class Bottleneck(nn.Module):
    """torchvision's Bottleneck (v1.5: stride on the 3x3), expansion 4, with split-BN."""

    def __init__(self, cin, planes, stride, groups, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, planes, 1, 1, 0, bias=False)
        self.bn1 = bn(planes, groups)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = bn(planes, groups)
        self.conv3 = nn.Conv2d(planes, 4 * planes, 1, 1, 0, bias=False)
        self.bn3 = bn(4 * planes, groups)
        self.downsample = None
        if stride != 1 or cin != 4 * planes:
            self.downsample = nn.Sequential(nn.Conv2d(cin, 4 * planes, 1, stride, bias=False),
                                            bn(4 * planes, groups))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Encoder(nn.Module):
    """ResNet with the small-image stem (or the ImageNet stem); `blocks` basic blocks (or
    bottlenecks) per stage; MLP head; L2 norm."""

    def __init__(self, cin, width, blocks, dim=128, stem="small", block="basic", bn=SplitBatchNorm):
        super().__init__()
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(cin, width, 7, 2, 3, bias=False)
            self.pool = nn.MaxPool2d(3, 2, 1)
        else:
            self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=False)
            self.pool = nn.Identity()
        self.bn1 = bn(width, G)
        layers, c = [], width
        for s, nb in enumerate(blocks):
            planes = width << s
            seq = []
            for b in range(nb):
                stride = 2 if (s > 0 and b == 0) else 1
                if block == "bottleneck":
                    seq.append(Bottleneck(c, planes, stride, G, bn))
                    c = 4 * planes
                else:
                    seq.append(Basic(c, planes, stride, G, bn=bn))
                    c = planes
            layers.append(nn.Sequential(*seq))
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, dim))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.pool(F.relu(self.bn1(self.conv1(x))))
        x = self.layers(x)
        return F.normalize(self.fc(x.mean(dim=(2, 3))), dim=1)


NETS = {"mini": dict(cin=1, width=16, blocks=[1, 1, 1, 1], size=28),
        "mini32": dict(cin=1, width=32, blocks=[1, 1, 1], size=28),
        "resnet18": dict(cin=3, width=64, blocks=[2, 2, 2, 2], size=32),
        "resnet50": dict(cin=3, width=64, blocks=[3, 4, 6, 3], size=224, stem="imagenet",
                         block="bottleneck")}


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
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32")
    ap.add_argument("--variant", choices=["none", "ft"], default="none")
    a = ap.parse_args()
    G = a.groups
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    gpu = a.device == "cuda"
    if gpu:
        tf32 = a.precision == "tf32"
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = False
    elif a.precision == "tf32":
        sys.exit("bench_moco_torch: --precision tf32 needs --device cuda")
    fmt = torch.channels_last if a.precision == "bf16" else torch.contiguous_format
    cfg = dict(NETS[a.net])
    size = cfg.pop("size")
    N, K, T, M, D = a.batch, a.K, 0.2, 0.99, 128
    enc_q = Encoder(dim=D, **cfg).to(dev, memory_format=fmt)
    enc_k = Encoder(dim=D, **cfg).to(dev, memory_format=fmt)
    enc_k.load_state_dict(enc_q.state_dict())
    for p in enc_k.parameters():
        p.requires_grad = False
    params_q, params_k = list(enc_q.parameters()), list(enc_k.parameters())
    queue = F.normalize(torch.randn(K, D, device=dev), dim=1)
    ptr = 0
    opt = torch.optim.SGD(params_q, lr=0.03, momentum=0.9, weight_decay=1e-4)
    x1 = torch.randn(N, cfg["cin"], size, size, device=dev).contiguous(memory_format=fmt)
    x2 = torch.randn(N, cfg["cin"], size, size, device=dev).contiguous(memory_format=fmt)
    labels = torch.zeros(N, dtype=torch.long, device=dev)
    beta_ex, beta_in = torch.distributions.Beta(2.0, 2.0), torch.distributions.Beta(1.6, 1.6)
    autocast = (torch.autocast(a.device, dtype=torch.bfloat16) if a.precision == "bf16"
                else contextlib.nullcontext())

    def step():
        nonlocal ptr
        with autocast:
            q = enc_q(x1)
            with torch.no_grad():
                if hasattr(torch, "_foreach_mul_"):
                    torch._foreach_mul_(params_k, M)
                    torch._foreach_add_(params_k, params_q, alpha=1 - M)
                else:
                    for pq, pk in zip(params_q, params_k):
                        pk.mul_(M).add_(pq.detach(), alpha=1 - M)
                perm = torch.randperm(N, device=dev)
                k_shuf = enc_k(x2[perm].contiguous(memory_format=fmt))
                k = torch.empty_like(k_shuf)
                k[perm] = k_shuf
            qq, kk, negs = q, k, queue
            if a.variant == "ft":
                lam = 1.0 + float(beta_ex.sample())
                mu = float(beta_in.sample())
                qq, kk = lam * q + (1 - lam) * k, lam * k + (1 - lam) * q
                negs = mu * queue + (1 - mu) * queue[torch.randperm(K, device=dev)]
            logits = torch.cat([(qq * kk).sum(1, keepdim=True), qq @ negs.t()], dim=1) / T
            loss = F.cross_entropy(logits, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            queue[ptr:ptr + N] = k.float()
        ptr = (ptr + N) % K
        return loss.item()  # every step, as MoCo's loop logs it (and clft reads its statistics)

    for _ in range(a.warmup):
        step()
    if gpu:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    if gpu:
        torch.cuda.synchronize()
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    extra = " gpu_mb=%.0f" % (torch.cuda.max_memory_allocated() / 2**20) if gpu else ""
    print(f"img_s={N * a.steps / dt:.3f} rss_mb={rss:.1f}{extra} loss={loss:.4f} "
          f"torch={torch.__version__} threads={torch.get_num_threads()} device={a.device} "
          f"precision={a.precision} variant={a.variant}")


if __name__ == "__main__":
    main()
