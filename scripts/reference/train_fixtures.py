#!/usr/bin/python3
"""Writes test/train/fixtures/optim.json: torch.optim.AdamW and clip_grad_norm_ numbers that the
TypeScript optimizer is checked against. Run with Debian's torch: /usr/bin/python3 scripts/reference/train_fixtures.py
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
out = {}

# AdamW: two parameters, four steps, changing learning rate (as a schedule would), weight decay on.
shapes = {"a": [3, 5], "b": [4, 3]}
params = {k: torch.randn(*s, dtype=torch.float32) for k, s in shapes.items()}
grads_per_step = [{k: torch.randn(*s, dtype=torch.float32) * (0.1 * (i + 1)) for k, s in shapes.items()} for i in range(4)]
lrs = [1e-3, 2e-3, 5e-4, 3e-3]
cfg = dict(betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
ps = {k: torch.nn.Parameter(v.clone()) for k, v in params.items()}
opt = torch.optim.AdamW(list(ps.values()), lr=lrs[0], **cfg)
after = []
for step, lr in enumerate(lrs):
    for g in opt.param_groups:
        g["lr"] = lr
    for k, p in ps.items():
        p.grad = grads_per_step[step][k].clone()
    opt.step()
    after.append({k: p.detach().flatten().tolist() for k, p in ps.items()})
out["adamw"] = {
    "shapes": shapes,
    "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 0.01,
    "lrs": lrs,
    "init": {k: v.flatten().tolist() for k, v in params.items()},
    "grads": [{k: g.flatten().tolist() for k, g in gs.items()} for gs in grads_per_step],
    "after": after,
}

# clip_grad_norm_: one case that clips, one that does not.
clip = []
for max_norm, scale in [(1.0, 1.0), (100.0, 1.0)]:
    gs = [torch.randn(7) * scale, torch.randn(2, 3) * scale]
    ts = [torch.nn.Parameter(torch.zeros_like(g)) for g in gs]
    for t, g in zip(ts, gs):
        t.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(ts, max_norm)
    clip.append({"maxNorm": max_norm, "grads": [g.flatten().tolist() for g in gs],
                 "norm": float(norm), "clipped": [t.grad.flatten().tolist() for t in ts]})
out["clip"] = clip

# kaiming_uniform_(a=sqrt(5)) as PEFT initialises lora_A: the bound PyTorch uses for a given fan-in.
kaiming = []
for fan_in in [64, 576, 1536]:
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    bound = gain * math.sqrt(3.0 / fan_in)
    w = torch.empty(256, fan_in)
    torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))
    kaiming.append({"fanIn": fan_in, "bound": bound, "observedMaxAbs": float(w.abs().max()),
                    "observedStd": float(w.std())})
out["kaiming"] = kaiming

path = os.path.join(os.path.dirname(__file__), "..", "..", "test", "train", "fixtures", "optim.json")
with open(path, "w") as f:
    json.dump(out, f)
print("wrote", os.path.normpath(path))
