#!/usr/bin/python3
"""gen_golden_contrast.py — golden fixtures for core/contrast (InfoNCE) and variants/ft.c.

Runs one MoCo logits + InfoNCE step in PyTorch, plain and with Feature Transformation written as
the official code (github.com/DTennant/CL-Visualizing-Feature-Transformation, memory/mem_moco.py,
RGBMoCo_dropmix_norm.forward with mix_target='posneg'):

    q_mix = mask * q + (1 - mask) * k ;  k_mix = mask * k + (1 - mask) * q
    queue = neg_mask * queue + (1 - neg_mask) * queue[indices]
    postmix_norm: q, k = F.normalize(q), F.normalize(k)
    logits = cat(q·k, q·queueᵀ) / T ;  loss = CrossEntropy(logits, 0)

with the λs and the permutation fixed (written to the fixture, fed into the C code through
ft_set_draws). Writes tests/fixtures/contrast_moco.safetensors and contrast_ft.safetensors
(safetensors written with json + struct only). Run from the repository root:
    /usr/bin/python3 tests/gen_golden_contrast.py
"""
import json
import struct

import torch
import torch.nn.functional as F

N, D, K, T = 8, 16, 64, 0.2


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.dtype == torch.float32:
            dt, data = "F32", struct.pack("<%df" % t.numel(), *t.flatten().tolist())
        elif t.dtype == torch.int32:
            dt, data = "I32", struct.pack("<%di" % t.numel(), *t.flatten().tolist())
        else:
            raise TypeError(t.dtype)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def moco_logits(q, k, queue):
    pos = torch.bmm(q.view(N, 1, -1), k.view(N, -1, 1)).view(N, 1)
    neg = torch.mm(queue, q.transpose(1, 0)).transpose(0, 1)
    return torch.cat((pos, neg), dim=1) / T


def step(q0, k, queue, lam_ex=None, lam_in=None, perm=None, postmix_norm=False):
    """Returns logits, loss, dL/dq for q0 (requires grad); FT when lam_ex is given."""
    q = q0.clone().requires_grad_(True)
    qq, kk, qu = q, k.detach(), queue.clone().detach()
    if lam_ex is not None:
        q_mix = lam_ex * qq + (1 - lam_ex) * kk
        k_mix = lam_ex * kk + (1 - lam_ex) * qq
        qq, kk = q_mix, k_mix
        qu = lam_in * qu + (1 - lam_in) * qu[perm.long()]
        if postmix_norm:
            qq, kk = F.normalize(qq, dim=1), F.normalize(kk, dim=1)
    logits = moco_logits(qq, kk, qu)
    loss = F.cross_entropy(logits, torch.zeros(N, dtype=torch.long))
    loss.backward()
    return logits.detach(), loss.detach().reshape(1), q.grad.detach()


def main():
    g = torch.Generator().manual_seed(20210805)
    q = F.normalize(torch.randn(N, D, generator=g), dim=1)
    # Positives correlated with their queries, as after some training (s ≈ 0.5–0.9).
    k = F.normalize(q + 0.6 * torch.randn(N, D, generator=g), dim=1)
    queue = F.normalize(torch.randn(K, D, generator=g), dim=1)
    out = {"q": q, "k": k, "queue": queue, "T": torch.tensor([T])}
    out["logits"], out["loss"], out["dq"] = step(q, k, queue)
    write_safetensors("tests/fixtures/contrast_moco.safetensors", out)

    lam_ex = torch.tensor([1.0 + 0.6372])  # a λ_ex = 1 + Beta draw
    lam_in = torch.tensor([0.4183])
    perm = torch.randperm(K, generator=g).to(torch.int32)
    lam_ex_d = 1.0 + torch.distributions.Beta(2.0, 2.0).sample((D,))  # dimension-wise, (D,)
    lam_in_d = torch.distributions.Beta(1.6, 1.6).sample((D,))
    ft = {"q": q, "k": k, "queue": queue, "T": torch.tensor([T]), "perm": perm,
          "lam_ex": lam_ex.float(), "lam_in": lam_in.float(),
          "lam_ex_d": lam_ex_d.float(), "lam_in_d": lam_in_d.float()}
    ft["logits"], ft["loss"], ft["dq"] = step(q, k, queue, lam_ex, lam_in, perm)
    # Dimension-wise λ (one per dimension, shared by the batch) with post-mix normalisation.
    ft["logits_dn"], ft["loss_dn"], ft["dq_dn"] = step(q, k, queue, lam_ex_d, lam_in_d, perm, True)
    write_safetensors("tests/fixtures/contrast_ft.safetensors", ft)
    print("loss moco %.6f ft %.6f ft_dimwise_norm %.6f" % (out["loss"], ft["loss"], ft["loss_dn"]))


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
