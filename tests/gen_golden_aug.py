#!/usr/bin/python3
"""gen_golden_aug.py — golden values for tests/test_data_aug.c from torchvision 0.14 + Pillow.

Each augmentation is applied with fixed parameters (crop box, jitter factors, blur sigma and kernel
size) to fixed small images; inputs and outputs are stored as F32 (uint8 values 0..255, or the
normalised float tensor) in tests/fixtures/aug_golden.safetensors.
Run: /usr/bin/python3 tests/gen_golden_aug.py   (needs torch, torchvision, numpy, PIL)
"""
import json
import struct

import numpy as np
import torch
import torchvision.transforms as T
import torchvision.transforms.functional as F
from PIL import Image

OUT = "tests/fixtures/aug_golden.safetensors"
tensors = {}


def put(name, arr):
    tensors[name] = np.ascontiguousarray(np.asarray(arr, dtype=np.float32))


def u8(pil):
    a = np.asarray(pil, dtype=np.uint8)
    return a if a.ndim == 3 else a[:, :, None]


def images():
    rng = np.random.RandomState(7)
    H, W = 23, 31
    y, x = np.mgrid[0:H, 0:W]
    base = np.stack([x * 8, y * 11, (x + y) * 5], axis=2) % 256
    rgb = np.clip(base + rng.randint(-40, 40, size=(H, W, 3)), 0, 255).astype(np.uint8)
    grey = np.clip((x[:, :28] * 9 + y[:, :28] * 3) % 256 + rng.randint(-30, 30, (H, 28)), 0, 255)
    return Image.fromarray(rgb, "RGB"), Image.fromarray(grey.astype(np.uint8), "L")


def main():
    rgb, grey = images()
    put("in_rgb", u8(rgb))
    put("in_grey", u8(grey))
    # resized crops: (top, left, h, w) -> (S, S), downscaling and upscaling
    put("resize_down", u8(F.resized_crop(rgb, 3, 5, 17, 22, [9, 9])))
    put("resize_up", u8(F.resized_crop(rgb, 2, 1, 9, 7, [20, 20])))
    put("resize_grey", u8(F.resized_crop(grey, 0, 2, 20, 25, [14, 14])))
    for name, fac in [("brightness", (1.3, 0.7)), ("contrast", (1.25, 0.625)),
                      ("saturation", (1.375, 0.75)), ("hue", (0.0625, -0.09375))]:
        fn = getattr(F, "adjust_" + name)
        for k, f in enumerate(fac):
            put(f"{name}_{k}", u8(fn(rgb, f)))
            if name in ("brightness", "contrast"):
                put(f"{name}_grey_{k}", u8(fn(grey, f)))
    put("grayscale", u8(F.rgb_to_grayscale(rgb, num_output_channels=3)))
    put("blur_a", u8(F.gaussian_blur(rgb, [7, 7], [1.5, 1.5])))
    put("blur_b", u8(F.gaussian_blur(rgb, [3, 3], [0.5, 0.5])))
    put("blur_grey", u8(F.gaussian_blur(grey, [5, 5], [1.0, 1.0])))
    norm = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    put("normalize_flip", norm(F.to_tensor(F.hflip(rgb))).numpy())
    ev = T.Compose([T.Resize(20), T.CenterCrop(16), T.ToTensor(), norm])
    put("eval_rgb", ev(rgb).numpy())
    # the v2 pipeline with fixed parameters: crop, jitter (order contrast, hue, brightness,
    # saturation), grayscale off, blur sigma 0.8 k 5, flip
    img = F.resized_crop(rgb, 1, 2, 20, 26, [16, 16])
    img = F.adjust_contrast(img, 0.75)
    img = F.adjust_hue(img, 0.03125)
    img = F.adjust_brightness(img, 1.125)
    img = F.adjust_saturation(img, 1.25)
    img = F.gaussian_blur(img, [5, 5], [0.8, 0.8])
    put("v2_fixed", norm(F.to_tensor(F.hflip(img))).numpy())
    # v1 order: grayscale before jitter
    img = F.resized_crop(rgb, 0, 0, 23, 31, [12, 12])
    img = F.rgb_to_grayscale(img, num_output_channels=3)
    img = F.adjust_brightness(img, 0.875)
    img = F.adjust_contrast(img, 1.375)
    put("v1_fixed", norm(F.to_tensor(img)).numpy())
    put("hue_shift_neg", np.array([np.uint8(np.float64(-0.09375) * 255)]))
    write(OUT)


def write(path):
    header, off, blobs = {}, 0, []
    for name, a in tensors.items():
        b = a.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"wrote {path}: {len(tensors)} tensors, {8 + len(h) + off} bytes")


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
