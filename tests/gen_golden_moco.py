#!/usr/bin/python3
"""gen_golden_moco.py — a faithful PyTorch MoCo v2 step (He et al. 2020; facebookresearch/moco
builder.py) on a tiny encoder, as golden values for tests/test_train.c.

Encoder: clft's resnet_small (2 stages of 1 basic block, width 4, 1 input channel, small stem) with
MoCo v2's MLP head (feat -> feat -> ReLU -> 8) and L2 normalisation. N = 8, K = 16, T = 0.2,
m = 0.99, split-BN over G = 2 contiguous sub-batches for both encoders (one device emulating G
devices, each with its own BN statistics, as multi-GPU MoCo does), keys under a given shuffle
permutation. Three steps of SGD (lr 0.05, momentum 0.9, wd 1e-4). Written: initial weights, queue,
per-step inputs and permutations; per-step logits, loss, dL/dq and (step 0) every parameter gradient;
after the 3 steps the query and key parameters, key BN buffers, queue and queue pointer. A second
trajectory from the same start (names prefixed "ft.") runs FT as the official code does, with its
draws written out (λ_ex, λ_in, the queue permutation) so the C run can be fed the same ones.

Run from the repository root:  /usr/bin/python3 tests/gen_golden_moco.py
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from moco_twin import Basic, SplitBN  # noqa: E402
from st_write import save  # noqa: E402

N, K, D, T, M, G, H = 8, 16, 8, 0.2, 0.99, 2, 8


class Encoder(nn.Module):
    def __init__(self, width=4, stages=2):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, 1, 1, bias=False)
        self.bn1 = SplitBN(width, G)
        c = width
        for s in range(stages):
            setattr(self, f"layer{s + 1}", nn.Sequential(Basic(c, width << s, 1 if s == 0 else 2, G)))
            c = width << s
        self.stages = stages
        self.fc = nn.Sequential(nn.Linear(c, c), nn.ReLU(), nn.Linear(c, D))

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        for s in range(self.stages):
            x = getattr(self, f"layer{s + 1}")(x)
        return F.normalize(self.fc(x.mean(dim=(2, 3))), dim=1)


def trajectory(out, prefix, ft, seed_inputs=7):
    """Three MoCo v2 steps from the same start; with ft, FT (PAPER.md §2) with given draws."""
    torch.manual_seed(3)
    enc_q, enc_k = Encoder(), Encoder()
    for m in enc_q.modules():
        if isinstance(m, nn.BatchNorm2d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    enc_k.load_state_dict(enc_q.state_dict())
    queue = F.normalize(torch.randn(K, D), dim=1)  # clft keeps the queue as (K, D) rows
    ptr = 0
    gen = torch.Generator().manual_seed(seed_inputs)
    if not ft:
        out["queue0"] = queue.clone()
        for n, p in enc_q.named_parameters():
            out["p." + n] = p.detach().clone()
    opt = torch.optim.SGD(enc_q.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    for step in range(3):
        x1, x2 = torch.randn(N, 1, H, H, generator=gen), torch.randn(N, 1, H, H, generator=gen)
        perm = torch.randperm(N, generator=gen)
        if not ft:
            out[f"x1.{step}"], out[f"x2.{step}"], out[f"perm.{step}"] = x1, x2, perm
        q = enc_q(x1)
        q.retain_grad()
        with torch.no_grad():
            for pq, pk in zip(enc_q.parameters(), enc_k.parameters()):
                pk.mul_(M).add_(pq.detach(), alpha=1 - M)
            k_shuf = enc_k(x2[perm])
            k = torch.empty_like(k_shuf)
            k[perm] = k_shuf  # unshuffle: row perm[i] of the shuffled batch is sample perm[i]
        q_hat, k_hat, queue_hat = q, k, queue
        if ft:  # the official code: one scalar λ each per step, no re-normalisation
            lam_ex = 1 + torch.distributions.Beta(2.0, 2.0).sample()
            lam_in = torch.distributions.Beta(1.6, 1.6).sample()
            qperm = torch.randperm(K)  # global RNG: the inputs (gen) stay those of the plain run
            out[f"{prefix}lam_ex.{step}"], out[f"{prefix}lam_in.{step}"] = lam_ex.reshape(1), lam_in.reshape(1)
            out[f"{prefix}qperm.{step}"] = qperm
            q_hat = lam_ex * q + (1 - lam_ex) * k
            k_hat = lam_ex * k + (1 - lam_ex) * q
            queue_hat = lam_in * queue + (1 - lam_in) * queue[qperm]
        logits = torch.cat([(q_hat * k_hat).sum(1, keepdim=True), q_hat @ queue_hat.t()], dim=1) / T
        loss = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
        opt.zero_grad()
        loss.backward()
        out[f"{prefix}logits.{step}"], out[f"{prefix}loss.{step}"] = logits.detach(), loss.detach().reshape(1)
        out[f"{prefix}dq.{step}"], out[f"{prefix}k.{step}"] = q.grad.detach().clone(), k.clone()
        if step == 0:
            for n, p in enc_q.named_parameters():
                out[f"{prefix}g." + n] = p.grad.detach().clone()
        opt.step()
        queue[ptr:ptr + N] = k  # enqueue the ORIGINAL keys, oldest first
        ptr = (ptr + N) % K
    for n, p in enc_q.named_parameters():
        out[f"{prefix}q3." + n] = p.detach().clone()
    for n, t in enc_k.state_dict().items():
        if not n.endswith("num_batches_tracked"):
            out[f"{prefix}k3." + n] = t.clone()
    out[f"{prefix}queue3"], out[f"{prefix}ptr3"] = queue.clone(), torch.tensor([ptr])


def main():
    torch.set_num_threads(1)
    out = {}
    trajectory(out, "", ft=False)
    trajectory(out, "ft.", ft=True)
    save(os.path.join(os.path.dirname(__file__), "fixtures", "moco_step.safetensors"), out,
         {"generator": "tests/gen_golden_moco.py", "torch": torch.__version__})


if __name__ == "__main__":
    main()
