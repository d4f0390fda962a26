"""st_write.py — write a safetensors file with only json + struct (no safetensors package), so the
golden generators need nothing beyond Debian's python3-torch. Tensors are stored as F32 unless they
are integer tensors (I64)."""
import json
import struct

import torch


def save(path, tensors, metadata=None):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        if t.dtype in (torch.int64, torch.int32):
            t, dtype = t.to(torch.int64), "I64"
        else:
            t, dtype = t.to(torch.float32), "F32"
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
