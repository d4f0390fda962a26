"""st_read.py — read a safetensors file with json + torch.frombuffer only (no safetensors package):
returns ({name: tensor}, metadata). F32/F64/I32/I64, little-endian, as clft writes them."""
import json
import struct

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64, "I32": torch.int32, "I64": torch.int64}


def load(path):
    data = open(path, "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    body = bytearray(data[8 + n:])
    out = {k: torch.frombuffer(body, dtype=DTYPES[v["dtype"]], offset=v["data_offsets"][0],
                               count=int(torch.tensor(v["shape"]).prod())).reshape(v["shape"])
           for k, v in header.items()}
    return out, meta
