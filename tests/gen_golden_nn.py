#!/usr/bin/python3
"""gen_golden_nn.py — golden values of clft's layers (core/nn) from PyTorch, for
tests/test_nn_conv_bn.c and tests/test_nn_layers.c.

Writes tests/fixtures/nn_layers.safetensors: for each layer its inputs, weights, the upstream
gradient R (the test's loss is sum(out * R)), and PyTorch's outputs and gradients (and BatchNorm's
running statistics after one train forward). Inputs are drawn in float32; PyTorch then computes in
float64 from those exact values, so the stored references are the float32 roundings of exact
answers and the C test measures clft's own float32 error.

Run with the interpreter that has torch 1.13:  /usr/bin/python3 tests/gen_golden_nn.py
Only json + struct write the file (no safetensors package needed).
"""
import json
import os
import struct

import torch
import torch.nn.functional as F

torch.manual_seed(20240607)
OUT = {}


def put(name, t):
    OUT[name] = t.detach().to(torch.float32).contiguous()


def rnd(*shape):
    return torch.randn(*shape, dtype=torch.float32).double()


# conv2d: (name, N, C_in, H, W, C_out, K, stride, pad); mirrored in tests/test_nn_conv_bn.c.
CONVS = [
    ("conv_a", 2, 3, 7, 6, 4, 3, 1, 1),
    ("conv_b", 2, 3, 9, 8, 5, 3, 2, 1),
    ("conv_c", 1, 1, 11, 10, 3, 7, 2, 3),
    ("conv_d", 2, 4, 5, 5, 6, 1, 2, 0),
    ("conv_e", 3, 8, 4, 4, 5, 1, 1, 0),
]


def gen_conv():
    for name, n, ci, h, w, co, k, st, pad in CONVS:
        x = rnd(n, ci, h, w).requires_grad_()
        wt = rnd(co, ci, k, k).requires_grad_()
        y = F.conv2d(x, wt, stride=st, padding=pad)
        r = rnd(*y.shape)
        (y * r).sum().backward()
        for key, t in [("in", x), ("weight", wt), ("dout", r), ("out", y), ("din", x.grad),
                       ("dweight", wt.grad)]:
            put(f"{name}.{key}", t)


def split_bn_train(x, gamma, beta, rm, rv, groups):
    """MoCo's SplitBatchNorm in training mode; returns (out, new running mean, new running var)."""
    n, c = x.shape[0], x.shape[1]
    rm_s, rv_s = rm.repeat(groups), rv.repeat(groups)
    # MoCo views (N, C, H, W) as (N/G, G*C, H, W), which puts sample n in group n % G; clft's
    # groups are contiguous sub-batches (nn.h), so regroup so that channel block g holds samples
    # g*N/G .. (g+1)*N/G - 1, then run the same batch_norm call as MoCo.
    xs = x
    if groups > 1:
        xs = x.reshape(groups, n // groups, c, *x.shape[2:]).transpose(0, 1)
        xs = xs.reshape(n // groups, groups * c, *x.shape[2:])
    y = F.batch_norm(xs, rm_s, rv_s, gamma.repeat(groups), beta.repeat(groups), True, 0.1, 1e-5)
    if groups > 1:
        y = y.reshape(n // groups, groups, c, *x.shape[2:]).transpose(0, 1).reshape(x.shape)
    return y, rm_s.view(groups, c).mean(0), rv_s.view(groups, c).mean(0)


# batchnorm: (name, N, C, H, W, groups, mode)
BNS = [
    ("bn_g1", 4, 3, 2, 3, 1, "train"),
    ("bn_g2", 4, 3, 2, 3, 2, "train"),
    ("bn_1d", 6, 5, 1, 1, 1, "train"),
    ("bn_eval", 3, 4, 2, 2, 1, "eval"),
]


def gen_bn():
    for name, n, c, h, w, groups, mode in BNS:
        x = rnd(n, c, h, w).requires_grad_()
        gamma = (1.0 + 0.3 * rnd(c)).requires_grad_()
        beta = (0.2 * rnd(c)).requires_grad_()
        rm0 = 0.5 * rnd(c)
        rv0 = 0.5 + rnd(c).abs()
        rm, rv = rm0.clone(), rv0.clone()
        if mode == "train":
            y, rm, rv = split_bn_train(x, gamma, beta, rm, rv, groups)
        else:
            y = F.batch_norm(x, rm, rv, gamma, beta, False, 0.1, 1e-5)
        r = rnd(*y.shape)
        (y * r).sum().backward()
        for key, t in [("in", x), ("gamma", gamma), ("beta", beta), ("running_mean0", rm0),
                       ("running_var0", rv0), ("dout", r), ("out", y), ("din", x.grad),
                       ("dgamma", gamma.grad), ("dbeta", beta.grad), ("running_mean", rm),
                       ("running_var", rv)]:
            put(f"{name}.{key}", t)


def gen_simple():
    x = rnd(2, 3, 4, 5).requires_grad_()
    y = torch.relu(x)
    r = rnd(*y.shape)
    (y * r).sum().backward()
    for key, t in [("in", x), ("dout", r), ("out", y), ("din", x.grad)]:
        put(f"relu.{key}", t)

    x = rnd(2, 3, 7, 7).requires_grad_()
    y = F.max_pool2d(x, 3, 2, 1)
    r = rnd(*y.shape)
    (y * r).sum().backward()
    for key, t in [("in", x), ("dout", r), ("out", y), ("din", x.grad)]:
        put(f"maxpool.{key}", t)

    x = rnd(2, 4, 3, 3).requires_grad_()
    y = F.adaptive_avg_pool2d(x, 1).flatten(1)
    r = rnd(*y.shape)
    (y * r).sum().backward()
    for key, t in [("in", x), ("dout", r), ("out", y), ("din", x.grad)]:
        put(f"avgpool.{key}", t)

    x = rnd(5, 7).requires_grad_()
    wt = rnd(3, 7).requires_grad_()
    b = rnd(3).requires_grad_()
    y = F.linear(x, wt, b)
    r = rnd(*y.shape)
    (y * r).sum().backward()
    for key, t in [("in", x), ("weight", wt), ("bias", b), ("dout", r), ("out", y),
                   ("din", x.grad), ("dweight", wt.grad), ("dbias", b.grad)]:
        put(f"linear.{key}", t)

    x = rnd(4, 6).requires_grad_()
    y = F.normalize(x, dim=1, eps=1e-12)
    r = rnd(*y.shape)
    (y * r).sum().backward()
    for key, t in [("in", x), ("dout", r), ("out", y), ("din", x.grad)]:
        put(f"l2norm.{key}", t)


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        data = tensors[name].numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape),
                        "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = {"generator": "tests/gen_golden_nn.py", "torch": torch.__version__}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


if __name__ == "__main__":
    gen_conv()
    gen_bn()
    gen_simple()
    here = os.path.dirname(os.path.abspath(__file__))
    write_safetensors(os.path.join(here, "fixtures", "nn_layers.safetensors"), OUT)
    print(f"wrote {len(OUT)} tensors")
