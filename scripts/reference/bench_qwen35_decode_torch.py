#!/usr/bin/python3
"""
PyTorch decode peer for bench/qwen35.ts: greedy decoding steps of scripts/reference/qwen35_reference.py's
model in float32 with caches, as transformers' torch path decodes: a KV cache on the full-attention layers;
on the Gated DeltaNet layers the last kernel-1 convolution inputs and the recurrent state, one delta-rule
update per token. The caches are filled to the context length with random values (a decode step's cost
depends on their sizes, not their contents), then DECODE steps are timed. Prints JSON
{"decodeMsPerToken@LEN": ms, ..., "maxRssKb": N}.

    /usr/bin/python3 scripts/reference/bench_qwen35_decode_torch.py CONFIG_JSON DECODE LEN [LEN ...]
"""
import json
import math
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, __import__("os").path.dirname(__file__))
import qwen35_reference as ref  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)


def new_cache(cfg, length, gen):
    cache = []
    conv_ch = 2 * cfg.nk * cfg.dk + cfg.nv * cfg.dv
    for t in cfg.types:
        if t == "linear_attention":
            cache.append({"conv": torch.randn(1, conv_ch, cfg.kernel - 1, generator=gen),
                          "S": torch.randn(1, cfg.nv, cfg.dk, cfg.dv, generator=gen) * 0.01})
        else:
            cache.append({"k": torch.randn(1, cfg.heads, length, cfg.hd, generator=gen),
                          "v": torch.randn(1, cfg.heads, length, cfg.hd, generator=gen)})
    return cache


def deltanet_step(cfg, W, p, x, c):
    a = p + "linear_attn."
    mixed = x @ W[a + "in_proj_qkv.weight"].T  # [1, C]
    window = torch.cat([c["conv"], mixed[..., None]], -1)  # [1, C, K]
    c["conv"] = window[..., 1:]
    mixed = F.silu((window * W[a + "conv1d.weight"][:, 0][None]).sum(-1))
    kd = cfg.nk * cfg.dk
    q, k, v = mixed[..., :kd], mixed[..., kd:2 * kd], mixed[..., 2 * kd:]
    z = (x @ W[a + "in_proj_z.weight"].T).view(1, cfg.nv, cfg.dv)
    beta = torch.sigmoid(x @ W[a + "in_proj_b.weight"].T)  # [1, nv]
    g = -W[a + "A_log"].exp() * F.softplus(x @ W[a + "in_proj_a.weight"].T + W[a + "dt_bias"])
    rep = cfg.nv // cfg.nk
    q = ref.l2norm(q.view(1, cfg.nk, cfg.dk)).repeat_interleave(rep, 1) * cfg.dk ** -0.5
    k = ref.l2norm(k.view(1, cfg.nk, cfg.dk)).repeat_interleave(rep, 1)
    v = v.view(1, cfg.nv, cfg.dv)
    S = c["S"] * g.exp()[..., None, None]
    delta = (v - (S * k[..., None]).sum(-2)) * beta[..., None]
    S = S + k[..., None] * delta[..., None, :]
    c["S"] = S
    o = (S * q[..., None]).sum(-2)  # [1, nv, dv]
    o = ref.rmsnorm(o, W[a + "norm.weight"], cfg.eps, one_plus=False) * F.silu(z)
    return o.reshape(1, -1) @ W[a + "out_proj.weight"].T


def attention_step(cfg, W, p, x, pos, c):
    hd, H, KV = cfg.hd, cfg.heads, cfg.kv
    qg = (x @ W[p + "self_attn.q_proj.weight"].T).view(1, H, 2 * hd)
    q, gate = qg[..., :hd], qg[..., hd:].reshape(1, H * hd)
    k = (x @ W[p + "self_attn.k_proj.weight"].T).view(1, KV, hd)
    v = (x @ W[p + "self_attn.v_proj.weight"].T).view(1, KV, hd)
    q = ref.rmsnorm(q, W[p + "self_attn.q_norm.weight"], cfg.eps)
    k = ref.rmsnorm(k, W[p + "self_attn.k_norm.weight"], cfg.eps)
    rd = int(hd * cfg.partial)
    inv = 1.0 / (cfg.theta ** (torch.arange(0, rd, 2, dtype=torch.float64) / rd))
    ang = (pos * inv).float()
    cos, sin = torch.cat([ang, ang]).cos(), torch.cat([ang, ang]).sin()

    def rot(t):
        r, rest = t[..., :rd], t[..., rd:]
        return torch.cat([r * cos + ref.rotate_half(r) * sin, rest], -1)

    q, k = rot(q), rot(k)
    c["k"] = torch.cat([c["k"], k.repeat_interleave(H // KV, 1)[:, :, None]], 2)
    c["v"] = torch.cat([c["v"], v.repeat_interleave(H // KV, 1)[:, :, None]], 2)
    s = (c["k"] @ q[..., None])[..., 0] / math.sqrt(hd)  # [1, H, L]
    o = (s.softmax(-1)[:, :, None] @ c["v"])[:, :, 0].reshape(1, H * hd)
    return (o * torch.sigmoid(gate)) @ W[p + "self_attn.o_proj.weight"].T


def decode_step(cfg, W, token, pos, cache):
    h = W["model.embed_tokens.weight"][token][None]
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        x = ref.rmsnorm(h, W[p + "input_layernorm.weight"], cfg.eps)
        if cfg.types[i] == "linear_attention":
            h = h + deltanet_step(cfg, W, p, x, cache[i])
        else:
            h = h + attention_step(cfg, W, p, x, pos, cache[i])
        x = ref.rmsnorm(h, W[p + "post_attention_layernorm.weight"], cfg.eps)
        act = F.silu(x @ W[p + "mlp.gate_proj.weight"].T) * (x @ W[p + "mlp.up_proj.weight"].T)
        h = h + act @ W[p + "mlp.down_proj.weight"].T
    h = ref.rmsnorm(h, W["model.norm.weight"], cfg.eps)
    head = W["model.embed_tokens.weight"] if cfg.tied else W["lm_head.weight"]
    return int((h @ head.T).argmax(-1))


def main():
    raw = json.load(open(sys.argv[1]))
    n = int(sys.argv[2])
    lengths = [int(x) for x in sys.argv[3:]]
    cfg = ref.Cfg(raw)
    gen = torch.Generator().manual_seed(1)
    W = {k: v.float() for k, v in ref.random_weights(cfg, gen).items()}
    out = {}
    with torch.no_grad():
        for length in lengths:
            cache = new_cache(cfg, length, gen)
            token = 5
            t0 = time.perf_counter()
            for i in range(n):
                token = decode_step(cfg, W, token, length + i, cache)
            out["decodeMsPerToken@%d" % length] = (time.perf_counter() - t0) * 1000 / n
    out["maxRssKb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    main()
