#!/usr/bin/python3
"""
Scores tunekit's and llama.cpp's teacher-forced next-token probabilities of a Qwen3.5 model (written by
qwen35_gguf_dump.ts) against qwen35_reference.py's float64 forward pass of the same weights:

    /usr/bin/python3 scripts/reference/qwen35_gguf_arbitrate.py MODEL_DIR DUMP.json
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
import qwen35_reference as R  # noqa: E402


def read_safetensors(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    header = json.loads(b[8:8 + n])
    out = {}
    for name, v in header.items():
        if name == "__metadata__":
            continue
        assert v["dtype"] == "F32", "%s: only float32 checkpoints" % name
        s, e = v["data_offsets"]
        out[name] = torch.frombuffer(bytearray(b[8 + n + s:8 + n + e]), dtype=torch.float32).reshape(v["shape"]).to(torch.float64)
    return out


def main():
    model_dir, dump = sys.argv[1:3]
    cfg = R.Cfg(json.load(open(os.path.join(model_dir, "config.json"))))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    d = json.load(open(dump))
    ids = torch.tensor([d["prompt"] + d["text"]])
    probs = torch.softmax(R.forward(cfg, W, ids)[0], -1)
    first = len(d["prompt"]) - 1
    worst = {"tunekit": [], "llama.cpp": []}
    for i, (logits, llama) in enumerate(zip(d["tunekitLogits"], d["llamaProbs"])):
        ref = probs[first + i]
        mine = torch.softmax(torch.tensor(logits, dtype=torch.float64), -1)
        theirs = torch.zeros_like(ref)
        for t, p in llama:
            theirs[int(t)] = p
        worst["tunekit"].append((mine - ref).abs().max().item())
        worst["llama.cpp"].append((theirs - ref).abs().max().item())
    for who, w in worst.items():
        print("%-9s vs float64 reference over %d positions: max |dp| %.2e (first 10: %.2e)" % (who, len(w), max(w), max(w[:10])))


if __name__ == "__main__":
    main()
