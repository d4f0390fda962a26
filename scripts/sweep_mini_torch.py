#!/usr/bin/python3
"""sweep_mini_torch.py — a PyTorch twin of the mini protocol (configs/mini.ini), for hyperparameter
sweeps on a GPU. It guides the choice of a preset; the numbers that count are clft's, re-measured
with `clft pretrain` / `clft eval` on the chosen setting.

What it mirrors (same definitions as clft; where it departs, it says so):
  data      Fashion-MNIST from the IDX files (Debian's dataset-fashion-mnist), normalised with
            mean 0.2860, std 0.3530 (core/data/augment.h).
  augment   per image, on the GPU: RandomResizedCrop(28, scale, ratio 3/4..4/3; torchvision's 10
            tries then the whole image), ColorJitter (brightness, contrast; saturation and hue are
            identities on one channel) in a random order with probability jitter_p, GaussianBlur
            (sigma ~ U(blur_lo, blur_hi), kernel 2*ceil(3 sigma)+1, reflect padding) with
            probability blur_p, horizontal flip. Departs from clft: no uint8 rounding between ops,
            and the crop is resized by grid_sample's bilinear (equal to PIL's for upscaling, which is
            every crop of a 28x28 image to 28x28).
  encoder   the small-stem ResNet of bench/bench_moco_torch.py (basic blocks, widths width<<s),
            split-BN over G contiguous groups on both encoders; v1 head Linear(feat,128), v2 head
            Linear-ReLU-Linear; L2 normalisation.
  MoCo      EMA of the key encoder before the keys, key batch shuffled, InfoNCE over [q.k, q.queue]/T,
            SGD momentum 0.9, weight decay 1e-4; v2 cosine lr per epoch, v1 x0.1 steps at milestones.
            Departs from clft: PyTorch's own initialisation and random streams (same distributions).
  eval      backbone in eval mode, global-pooled features of the un-augmented sets; kNN (k 200,
            T 0.07, InstDisc weighting on L2-normalised features) and the cached linear probe
            (SGD lr 30, momentum 0.9, wd 0, batch 256, 20 epochs, x0.1 at 12 and 16). Raw pixels
            through the same kNN and probe with --pixels.

Usage:
  sweep_mini_torch.py --data DIR --out FILE.csv --runs 'name:key=val,key=val;name2:...' [--seeds 1,2]
  keys: baseline (v1|v2), epochs, lr, T, K, m, batch, width, stages, scale_lo, jitter_p, jitter_bc,
        blur_p, blur_lo, blur_hi, groups, milestones (v1, '/'-separated), wd
Appends one CSV row per run: name,seed,epochs,knn_by_epoch,knn,linear,seconds,settings
"""
import argparse
import gzip
import math
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from moco_twin import Basic  # noqa: E402

MEAN, STD = 0.2860, 0.3530
DEFAULTS = dict(baseline="v2", epochs=3, lr=0.06, T=None, K=4096, m=0.99, batch=128, width=16,
                stages=4, scale_lo=0.2, jitter_p=None, jitter_bc=0.4, blur_p=None, blur_lo=0.1,
                blur_hi=2.0, groups=8, milestones="2", wd=1e-4)


def load_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return torch.frombuffer(bytearray(raw[4 + 4 * dims:]), dtype=torch.uint8).view(shape)


class FusedSplitBN(nn.Module):
    """BatchNorm over G contiguous sub-batches in training (running stats = mean of the group
    updates, as tests/moco_twin.py), plain eval-mode BN otherwise; one fused computation."""

    def __init__(self, c, groups, momentum=0.1, eps=1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.groups, self.momentum, self.eps = groups, momentum, eps

    def forward(self, x):
        if not self.training:
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                False, 0.0, self.eps)
        N, C, H, W = x.shape
        G = self.groups
        xg = x.view(G, N // G, C, H, W)
        mean = xg.mean(dim=(1, 3, 4), keepdim=True)
        var = xg.var(dim=(1, 3, 4), unbiased=False, keepdim=True)
        y = (xg - mean) * torch.rsqrt(var + self.eps)
        y = y * self.weight.view(1, 1, C, 1, 1) + self.bias.view(1, 1, C, 1, 1)
        with torch.no_grad():
            n = (N // G) * H * W
            mom = self.momentum
            self.running_mean.mul_(1 - mom).add_(mom * mean.view(G, C).mean(0))
            self.running_var.mul_(1 - mom).add_(mom * (var.view(G, C) * n / max(n - 1, 1)).mean(0))
        return y.view(N, C, H, W)


class Encoder(nn.Module):
    def __init__(self, width, stages, mlp, groups, dim=128):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn1 = FusedSplitBN(width, groups)
        blocks, c = [], width
        for s in range(stages):
            planes = width << s
            blocks.append(Basic(c, planes, 2 if s > 0 else 1, groups, bn=FusedSplitBN))
            c = planes
        self.blocks = nn.Sequential(*blocks)
        self.feat_dim = c
        self.head = (nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, dim)) if mlp
                     else nn.Linear(c, dim))
        for mod in self.modules():
            if isinstance(mod, nn.Conv2d):
                nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):
        return self.blocks(F.relu(self.bn1(self.conv1(x)))).mean(dim=(2, 3))

    def forward(self, x):
        return F.normalize(self.head(self.features(x)), dim=1)


def augment(img, cfg, gen):
    """img: (N,28,28) uint8 on the device -> (N,1,28,28) normalised float views."""
    N, H, W = img.shape
    dev = img.device
    x = img.float().unsqueeze(1) / 255.0
    # RandomResizedCrop.get_params, vectorised over 10 tries
    area = H * W
    tgt = area * (cfg["scale_lo"] + (1.0 - cfg["scale_lo"]) * torch.rand(N, 10, device=dev, generator=gen))
    logr = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(N, 10, device=dev, generator=gen)
    ar = torch.exp(logr)
    w = torch.round(torch.sqrt(tgt * ar))
    h = torch.round(torch.sqrt(tgt / ar))
    ok = (w > 0) & (w <= W) & (h > 0) & (h <= H)
    first = torch.where(ok.any(1), ok.float().argmax(1), torch.full((N,), -1, device=dev))
    sel = first.clamp(min=0).unsqueeze(1)
    w = torch.where(first >= 0, w.gather(1, sel).squeeze(1), torch.full((N,), float(W), device=dev))
    h = torch.where(first >= 0, h.gather(1, sel).squeeze(1), torch.full((N,), float(H), device=dev))
    i = torch.floor(torch.rand(N, device=dev, generator=gen) * (H - h + 1))
    j = torch.floor(torch.rand(N, device=dev, generator=gen) * (W - w + 1))
    o = torch.arange(W, device=dev).float() + 0.5
    sx = j.unsqueeze(1) + o.unsqueeze(0) * (w / W).unsqueeze(1) - 0.5     # (N, W) source x
    sy = i.unsqueeze(1) + o.unsqueeze(0) * (h / H).unsqueeze(1) - 0.5     # (N, H) source y
    gx = (2 * sx + 1) / W - 1
    gy = (2 * sy + 1) / H - 1
    grid = torch.stack([gx.unsqueeze(1).expand(N, H, W), gy.unsqueeze(2).expand(N, H, W)], dim=3)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # ColorJitter: brightness and contrast in a random order, with probability jitter_p
    s = cfg["jitter_bc"]
    jit = (torch.rand(N, device=dev, generator=gen) < cfg["jitter_p"]).view(N, 1, 1, 1)
    b = (1 - s + 2 * s * torch.rand(N, device=dev, generator=gen)).view(N, 1, 1, 1)
    c = (1 - s + 2 * s * torch.rand(N, device=dev, generator=gen)).view(N, 1, 1, 1)
    b_first = (torch.rand(N, device=dev, generator=gen) < 0.5).view(N, 1, 1, 1)

    def bright(t):
        return (t * b).clamp(0, 1)

    def contrast(t):
        m = t.mean(dim=(1, 2, 3), keepdim=True)
        return (c * t + (1 - c) * m).clamp(0, 1)

    y = torch.where(b_first, contrast(bright(x)), bright(contrast(x)))
    x = torch.where(jit, y, x)
    # GaussianBlur with probability blur_p
    if cfg["blur_p"] > 0:
        sig = cfg["blur_lo"] + (cfg["blur_hi"] - cfg["blur_lo"]) * torch.rand(N, device=dev, generator=gen)
        half = torch.ceil(3 * sig)
        R = int(math.ceil(3 * cfg["blur_hi"]))
        t = torch.arange(-R, R + 1, device=dev).float()
        k = torch.exp(-0.5 * (t.unsqueeze(0) / sig.unsqueeze(1)) ** 2)
        k = k * (t.abs().unsqueeze(0) <= half.unsqueeze(1))
        k = k / k.sum(1, keepdim=True)
        xp = F.pad(x.view(1, N, H, W), (R, R, R, R), mode="reflect")
        yb = F.conv2d(xp, k.view(N, 1, 2 * R + 1, 1), groups=N)
        yb = F.conv2d(yb, k.view(N, 1, 1, 2 * R + 1), groups=N).view(N, 1, H, W)
        blur = (torch.rand(N, device=dev, generator=gen) < cfg["blur_p"]).view(N, 1, 1, 1)
        x = torch.where(blur, yb, x)
    flip = (torch.rand(N, device=dev, generator=gen) < 0.5).view(N, 1, 1, 1)
    x = torch.where(flip, x.flip(3), x)
    return (x - MEAN) / STD


@torch.no_grad()
def features(enc, imgs, bs=2000):
    enc.eval()
    out = []
    for s in range(0, imgs.shape[0], bs):
        x = (imgs[s:s + bs].float().unsqueeze(1) / 255.0 - MEAN) / STD
        out.append(enc.features(x))
    enc.train()
    return torch.cat(out)


@torch.no_grad()
def knn_top1(ftr, ytr, fte, yte, k=200, T=0.07, C=10):
    ftr, fte = F.normalize(ftr, dim=1), F.normalize(fte, dim=1)
    correct = 0
    for s in range(0, fte.shape[0], 1000):
        sim = fte[s:s + 1000] @ ftr.t()
        v, idx = sim.topk(k, dim=1)
        w = torch.exp(v / T)
        score = torch.zeros(v.shape[0], C, device=v.device).scatter_add_(1, ytr[idx], w)
        correct += (score.argmax(1) == yte[s:s + 1000]).sum().item()
    return 100.0 * correct / fte.shape[0]


def linear_top1(ftr, ytr, fte, yte, seed, C=10, epochs=20, milestones=(12, 16), lr=30.0, bs=256):
    g = torch.Generator(device=ftr.device).manual_seed(seed)
    D = ftr.shape[1]
    W = (0.01 * torch.randn(C, D, device=ftr.device, generator=g)).requires_grad_()
    b = torch.zeros(C, device=ftr.device, requires_grad=True)
    opt = torch.optim.SGD([W, b], lr=lr, momentum=0.9, weight_decay=0.0)
    for e in range(epochs):
        for gr in opt.param_groups:
            gr["lr"] = lr * (0.1 ** sum(e >= m for m in milestones))
        perm = torch.randperm(ftr.shape[0], device=ftr.device, generator=g)
        for s in range(0, ftr.shape[0], bs):
            idx = perm[s:s + bs]
            loss = F.cross_entropy(ftr[idx] @ W.t() + b, ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        return 100.0 * ((fte @ W.t() + b).argmax(1) == yte).float().mean().item()


def pretrain(cfg, seed, data, dev):
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed + 1000)
    xtr, ytr, xte, yte = data
    v2 = cfg["baseline"] == "v2"
    T = cfg["T"] if cfg["T"] is not None else (0.2 if v2 else 0.07)
    cfg["jitter_p"] = cfg["jitter_p"] if cfg["jitter_p"] is not None else (0.8 if v2 else 1.0)
    cfg["blur_p"] = cfg["blur_p"] if cfg["blur_p"] is not None else (0.5 if v2 else 0.0)
    G, N, K, M = cfg["groups"], cfg["batch"], cfg["K"], cfg["m"]
    q = Encoder(cfg["width"], cfg["stages"], v2, G).to(dev)
    k = Encoder(cfg["width"], cfg["stages"], v2, G).to(dev)
    k.load_state_dict(q.state_dict())
    for p in k.parameters():
        p.requires_grad = False
    qp, kp = list(q.parameters()), list(k.parameters())
    queue = F.normalize(torch.randn(K, 128, device=dev), dim=1)
    ptr = 0
    opt = torch.optim.SGD(q.parameters(), lr=cfg["lr"], momentum=0.9, weight_decay=cfg["wd"])
    labels = torch.zeros(N, dtype=torch.long, device=dev)
    miles = [int(s) for s in str(cfg["milestones"]).split("/") if s]
    knns = []
    n = xtr.shape[0]
    for ep in range(cfg["epochs"]):
        if v2:
            lr = cfg["lr"] * 0.5 * (1 + math.cos(math.pi * ep / cfg["epochs"]))
        else:
            lr = cfg["lr"] * (0.1 ** sum(ep >= m_ for m_ in miles))
        for gr in opt.param_groups:
            gr["lr"] = lr
        perm = torch.randperm(n, device=dev, generator=gen)
        for s in range(0, n - N + 1, N):  # drop the last partial batch
            img = xtr[perm[s:s + N]]
            x1, x2 = augment(img, cfg, gen), augment(img, cfg, gen)
            qv = q(x1)
            with torch.no_grad():
                torch._foreach_mul_(kp, M)
                torch._foreach_add_(kp, qp, alpha=1 - M)
                sh = torch.randperm(N, device=dev, generator=gen)
                ks = k(x2[sh])
                kv = torch.empty_like(ks)
                kv[sh] = ks
            logits = torch.cat([(qv * kv).sum(1, keepdim=True), qv @ queue.t()], dim=1) / T
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                queue[ptr:ptr + N] = kv
                ptr = (ptr + N) % K
            if not torch.isfinite(loss):
                raise RuntimeError("loss is not finite")
        ftr, fte = features(q, xtr), features(q, xte)
        knns.append(knn_top1(ftr, ytr, fte, yte))
    lin = linear_top1(ftr, ytr, fte, yte, seed)
    return knns, lin


def parse_runs(text):
    runs = []
    for item in [s for s in text.split(";") if s.strip()]:
        name, _, kv = item.partition(":")
        cfg = dict(DEFAULTS)
        for pair in [p for p in kv.split(",") if p]:
            key, _, val = pair.partition("=")
            if key not in DEFAULTS:
                sys.exit(f"sweep_mini_torch: unknown key '{key}' in run '{name}'")
            cfg[key] = val if key in ("baseline", "milestones") else float(val)
        for key in ("epochs", "K", "batch", "width", "stages", "groups"):
            cfg[key] = int(cfg[key])
        runs.append((name.strip(), cfg))
    return runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--runs", default="")
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--pixels", action="store_true")
    ap.add_argument("--train-limit", type=int, default=0)
    a = ap.parse_args()
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    ld = lambda f: load_idx(os.path.join(a.data, f)).to(dev)  # noqa: E731
    xtr, ytr = ld("train-images-idx3-ubyte.gz"), ld("train-labels-idx1-ubyte.gz").long()
    xte, yte = ld("t10k-images-idx3-ubyte.gz"), ld("t10k-labels-idx1-ubyte.gz").long()
    if a.train_limit:
        xtr, ytr = xtr[:a.train_limit], ytr[:a.train_limit]
    data = (xtr, ytr, xte, yte)

    def emit(row):  # each row when known: a process cut off by a time limit loses only its last run
        print(row, flush=True)
        with open(a.out, "a") as f:
            f.write(row + "\n")

    if a.pixels:
        px = lambda t: ((t.float() / 255.0 - MEAN) / STD).view(t.shape[0], -1)  # noqa: E731
        t0 = time.time()
        kp = knn_top1(px(xtr), ytr, px(xte), yte)
        lp = linear_top1(px(xtr), ytr, px(xte), yte, 1)
        emit(f"pixels,0,0,,{kp:.2f},{lp:.2f},{time.time() - t0:.1f},")
    for name, cfg in parse_runs(a.runs):
        for seed in [int(s) for s in a.seeds.split(",")]:
            t0 = time.time()
            try:
                knns, lin = pretrain(dict(cfg), seed, data, dev)
            except RuntimeError as e:
                emit(f"{name},{seed},{cfg['epochs']},,nan,nan,{time.time() - t0:.1f},{e}")
                continue
            settings = " ".join(f"{k_}={v}" for k_, v in cfg.items() if v != DEFAULTS[k_])
            emit(f"{name},{seed},{cfg['epochs']},{'/'.join(f'{v:.2f}' for v in knns)},"
                 f"{knns[-1]:.2f},{lin:.2f},{time.time() - t0:.1f},{settings}")

if __name__ == "__main__":
    main()
