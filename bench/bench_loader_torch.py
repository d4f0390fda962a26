#!/usr/bin/python3
"""bench_loader_torch.py — the torchvision + PIL side of bench/bench_loader.c: the same MoCo v2 two-view
pipeline on the same images, one thread. Prints `img_s=X` (source images per second, two views each).

usage: bench_loader_torch.py fmnist DIR N      first N Fashion-MNIST train images (IDX .gz)
       bench_loader_torch.py jpeg DIR N        the N .JPEG files under DIR/train/*/ (224 px views)
"""
import glob
import gzip
import math
import random
import sys
import time

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image


class Blur:
    """GaussianBlur sigma ~ U(0.1, 2.0), kernel 2 ceil(3 sigma) + 1 (clft's default rule)."""

    def __call__(self, img):
        s = random.uniform(0.1, 2.0)
        k = min(2 * math.ceil(3 * s) + 1, 2 * (min(img.size) - 1) + 1)
        return F.gaussian_blur(img, [k, k], [s, s])


def v2(size, mean, std):
    return T.Compose([
        T.RandomResizedCrop(size, scale=(0.2, 1.0)),
        T.RandomApply([T.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8),
        T.RandomGrayscale(p=0.2),
        T.RandomApply([Blur()], p=0.5),
        T.RandomHorizontalFlip(),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


def main():
    torch.set_num_threads(1)
    kind, root, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "fmnist":
        with gzip.open(f"{root}/train-images-idx3-ubyte.gz") as f:
            pix = np.frombuffer(f.read(), dtype=np.uint8, offset=16).reshape(-1, 28, 28)[:n]
        aug = v2(28, [0.2860], [0.3530])
        t0 = time.perf_counter()
        for i in range(n):
            img = Image.fromarray(pix[i], "L")
            aug(img), aug(img)
    else:
        files = sorted(glob.glob(f"{root}/train/*/*.JPEG"))[:n]
        aug = v2(224, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
        t0 = time.perf_counter()
        for p in files:
            with open(p, "rb") as f:
                img = Image.open(f).convert("RGB")
            aug(img), aug(img)
        n = len(files)
    print(f"img_s={n / (time.perf_counter() - t0):.1f}")


if __name__ == "__main__":
    main()
