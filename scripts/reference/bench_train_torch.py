#!/usr/bin/python3
"""PyTorch CPU baseline for bench/train.ts: one LoRA training step (forward, backward, AdamW) on a
SmolLM2-135M-shaped Llama with random weights (30 layers, hidden 576, 9/3 heads, MLP 1536, vocab 49152,
tied), batch 4 x 256, LoRA r=16 on every linear layer, loss on every token. Autograd, float32.
Prints one JSON line: step seconds (each), tokens/s of the median, peak RSS.
Run with Debian's torch: GOMP_SPINCOUNT=0 /usr/bin/python3 scripts/reference/bench_train_torch.py [steps] [threads]
"""
import json
import math
import resource
import sys
import time

import torch

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
torch.set_num_threads(threads)
torch.manual_seed(0)

import os
L = int(os.environ.get("BENCH_LAYERS", "30"))  # fewer layers only to smoke-test the script
H, NH, KV, I, V = 576, 9, 3, 1536, 49152
HD = H // NH
B, T, R, ALPHA = 4, 256, 16, 32.0
SCALE = ALPHA / R


def w(*shape):
    return torch.randn(*shape) * 0.02


class Lora(torch.nn.Module):
    def __init__(self, out_f, in_f):
        super().__init__()
        self.weight = w(out_f, in_f)  # frozen (a plain tensor, not a Parameter)
        self.A = torch.nn.Parameter(torch.empty(R, in_f))
        torch.nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))
        self.B = torch.nn.Parameter(torch.zeros(out_f, R))

    def forward(self, x):
        return x @ self.weight.t() + (x @ self.A.t()) @ self.B.t() * SCALE


def rms(x, g):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * g


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = Lora(NH * HD, H), Lora(KV * HD, H), Lora(KV * HD, H), Lora(H, NH * HD)
        self.gate, self.up, self.down = Lora(I, H), Lora(I, H), Lora(H, I)
        self.n1, self.n2 = torch.ones(H), torch.ones(H)

    def forward(self, h, cos, sin, mask):
        x = rms(h, self.n1)
        q = self.q(x).view(B, T, NH, HD).transpose(1, 2)
        k = self.k(x).view(B, T, KV, HD).transpose(1, 2)
        v = self.v(x).view(B, T, KV, HD).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        k = k.repeat_interleave(NH // KV, dim=1)
        v = v.repeat_interleave(NH // KV, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(HD) + mask
        ctx = torch.softmax(att, -1) @ v
        h = h + self.o(ctx.transpose(1, 2).reshape(B, T, H))
        x = rms(h, self.n2)
        return h + self.down(torch.nn.functional.silu(self.gate(x)) * self.up(x))


def rope(x, cos, sin):
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = w(V, H)
        self.layers = torch.nn.ModuleList([Layer() for _ in range(L)])
        self.norm = torch.ones(H)

    def forward(self, ids, targets, cos, sin, mask):
        h = self.emb[ids]
        for layer in self.layers:
            h = layer(h, cos, sin, mask)
        logits = rms(h, self.norm) @ self.emb.t()
        return torch.nn.functional.cross_entropy(logits.view(-1, V), targets.view(-1), reduction="sum")


model = Model()
params = [p for p in model.parameters() if p.requires_grad]
opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
inv = 1.0 / (10000 ** (torch.arange(0, HD, 2).float() / HD))
freqs = torch.outer(torch.arange(T).float(), inv)
emb = torch.cat([freqs, freqs], -1)
cos, sin = emb.cos()[None, None], emb.sin()[None, None]
mask = torch.triu(torch.full((T, T), float("-inf")), 1)[None, None]
ids = torch.randint(0, V, (B, T))
targets = torch.randint(0, V, (B, T))

times = []
for i in range(steps + 1):
    t0 = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = model(ids, targets, cos, sin, mask) / (B * T)
    loss.backward()
    opt.step()
    dt = time.perf_counter() - t0
    if i > 0:  # the first step warms up allocators and kernels
        times.append(dt)
times.sort()
med = times[len(times) // 2]
print(json.dumps({
    "stepSeconds": times,
    "medianSeconds": med,
    "tokensPerSecond": B * T / med,
    "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "loraParams": sum(p.numel() for p in params),
    "torch": torch.__version__,
    "threads": threads,
}))
