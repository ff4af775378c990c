#!/usr/bin/python3
"""
tunekit's independent PyTorch reference for Qwen3.5's text model (hybrid Gated DeltaNet + gated full
attention). Written from transformers' models/qwen3_5/modeling_qwen3_5.py and configuration_qwen3_5.py
(transformers is not installed here); run with Debian's torch:

    /usr/bin/python3 scripts/reference/qwen35_reference.py        # writes test/fixtures/reference-qwen35/

The fixture layout is the one scripts/reference/decoder_reference.py documents (manifest.json with
models[], each with logits, LoRA logits, masked loss and LoRA gradients), in its own folder.

Model math (what the engine must reproduce):
  norm(x, w) = x / sqrt(mean(x^2) + eps) * (1 + w)          (every RMSNorm but the gated one)
  layer: h += mixer(norm(h));  h += down(silu(gate x) * up x), x = norm(h)
  full_attention mixer: q_proj gives per head [q (hd), gate (hd)]; q, k per-head norm; rotary on the
    first hd * partial_rotary_factor dims (rotate-half within them, inv_freq over that dim; text
    positions are equal on the three mrope axes, so the sections do not matter); GQA softmax
    attention scaled 1/sqrt(hd); out * sigmoid(gate); o_proj.
  linear_attention mixer (Gated DeltaNet), nk key heads / nv value heads (nv multiple of nk; key head
    j serves value heads j*g .. j*g+g-1):
    qkv = in_proj_qkv x -> causal depthwise conv1d (kernel K, no bias, left zero padding) -> silu
    split [q (nk*dk), k (nk*dk), v (nv*dv)]; q, k L2-normalised per head (eps 1e-6 inside rsqrt);
    q *= dk^-0.5;  beta = sigmoid(in_proj_b x);  g = -exp(A_log) * softplus(in_proj_a x + dt_bias)
    recurrence per value head: S = exp(g_t) S;  S += k_t (beta_t (v_t - S^T k_t))^T;  o_t = S^T q_t
    (S is [dk, dv]); computed both per token and in chunks of 64 (the two are checked to agree);
    o = rmsnorm(o per head) * w * silu(z), z = in_proj_z x (plain w here, not 1 + w);  out_proj.
  logits = norm(h_final) @ (lm_head or embed)^T.   LoRA: W' = W + scaling * B @ A.
"""
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from decoder_reference import write_safetensors  # noqa: E402

torch.set_default_dtype(torch.float64)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "reference-qwen35")
CHUNK = 64


class Cfg:
    def __init__(self, raw):
        multimodal = raw.get("model_type") == "qwen3_5"
        c = raw["text_config"] if multimodal else raw
        self.multimodal = multimodal
        self.vocab = c["vocab_size"]
        self.hidden = c["hidden_size"]
        self.inter = c["intermediate_size"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv = c["num_key_value_heads"]
        self.hd = c.get("head_dim", 256)
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.nk = c["linear_num_key_heads"]
        self.nv = c["linear_num_value_heads"]
        self.dk = c["linear_key_head_dim"]
        self.dv = c["linear_value_head_dim"]
        self.kernel = c.get("linear_conv_kernel_dim", 4)
        self.tied = raw.get("tie_word_embeddings", c.get("tie_word_embeddings", False))
        rp = c.get("rope_parameters") or {}
        self.theta = rp.get("rope_theta", c.get("rope_theta", 10000.0))
        self.partial = rp.get("partial_rotary_factor", c.get("partial_rotary_factor", 0.25))
        interval = c.get("full_attention_interval", 4)
        self.types = c.get("layer_types") or [
            "linear_attention" if (i + 1) % interval else "full_attention" for i in range(self.layers)
        ]


def rmsnorm(x, w, eps, one_plus=True):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * ((1 + w) if one_plus else w)


def linear(x, W, name, lora, scaling):
    y = x @ W[name].T
    key = name[len("model."):-len(".weight")]
    if lora and key in lora:
        A, B = lora[key]
        y = y + scaling * (x @ A.T) @ B.T
    return y


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


def full_attention(cfg, W, p, x, positions, lora, scaling):
    B, T, _ = x.shape
    hd, H, KV = cfg.hd, cfg.heads, cfg.kv
    qg = linear(x, W, p + "self_attn.q_proj.weight", lora, scaling).view(B, T, H, 2 * hd)
    q, gate = qg[..., :hd], qg[..., hd:].reshape(B, T, H * hd)
    k = linear(x, W, p + "self_attn.k_proj.weight", lora, scaling).view(B, T, KV, hd)
    v = linear(x, W, p + "self_attn.v_proj.weight", lora, scaling).view(B, T, KV, hd)
    q = rmsnorm(q, W[p + "self_attn.q_norm.weight"], cfg.eps).transpose(1, 2)
    k = rmsnorm(k, W[p + "self_attn.k_norm.weight"], cfg.eps).transpose(1, 2)
    v = v.transpose(1, 2)
    rd = int(hd * cfg.partial)
    inv = 1.0 / (cfg.theta ** (torch.arange(0, rd, 2, dtype=torch.float64) / rd))
    ang = positions[:, :, None].double() * inv
    cos = torch.cat([ang, ang], -1).cos().to(q.dtype)[:, None]
    sin = torch.cat([ang, ang], -1).sin().to(q.dtype)[:, None]

    def rot(t):
        r, rest = t[..., :rd], t[..., rd:]
        return torch.cat([r * cos + rotate_half(r) * sin, rest], -1)

    q, k = rot(q), rot(k)
    k = k.repeat_interleave(H // KV, dim=1)
    v = v.repeat_interleave(H // KV, dim=1)
    s = q @ k.transpose(-1, -2) / math.sqrt(hd)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    s = s.masked_fill(mask, float("-inf"))
    o = (s.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
    o = o * torch.sigmoid(gate)
    return linear(o, W, p + "self_attn.o_proj.weight", lora, scaling)


def l2norm(x):
    return x * torch.rsqrt((x * x).sum(-1, keepdim=True) + 1e-6)


def delta_rule_recurrent(q, k, v, g, beta, state=None):
    """Per token. q, k [B, H, T, dk] (normalised, q scaled), v [B, H, T, dv], g, beta [B, H, T]."""
    B, H, T, dk = k.shape
    dv = v.shape[-1]
    S = torch.zeros(B, H, dk, dv) if state is None else state
    out = []
    for t in range(T):
        S = S * g[:, :, t].exp()[..., None, None]
        pred = (S * k[:, :, t, :, None]).sum(-2)
        delta = (v[:, :, t] - pred) * beta[:, :, t, None]
        S = S + k[:, :, t, :, None] * delta[:, :, None, :]
        out.append((S * q[:, :, t, :, None]).sum(-2))
    return torch.stack(out, 2), S


def delta_rule_chunked(q, k, v, g, beta):
    """The chunked form (chunks of CHUNK, right-padded): within-chunk UT transform, then a scan over chunks."""
    B, H, T, dk = k.shape
    dv = v.shape[-1]
    pad = (CHUNK - T % CHUNK) % CHUNK
    q, k, v = (F.pad(x, (0, 0, 0, pad)) for x in (q, k, v))
    g, beta = (F.pad(x, (0, pad)) for x in (g, beta))
    n = (T + pad) // CHUNK
    kb = (k * beta[..., None]).view(B, H, n, CHUNK, dk)
    vb = (v * beta[..., None]).view(B, H, n, CHUNK, dv)
    q, k = q.view(B, H, n, CHUNK, dk), k.view(B, H, n, CHUNK, dk)
    c = g.view(B, H, n, CHUNK).cumsum(-1)
    upper = torch.ones(CHUNK, CHUNK, dtype=torch.bool).triu(1)
    decay = (c[..., :, None] - c[..., None, :]).masked_fill(upper, float("-inf")).exp()
    L = (kb @ k.transpose(-1, -2)) * decay  # unit-diagonal lower-triangular system (diagonal: beta |k|^2 ... replaced by 1)
    L = L.masked_fill(~torch.ones(CHUNK, CHUNK, dtype=torch.bool).tril(-1), 0) + torch.eye(CHUNK)
    u = torch.linalg.solve_triangular(L, vb, upper=False, unitriangular=True)
    w = torch.linalg.solve_triangular(L, kb * c.exp()[..., None], upper=False, unitriangular=True)
    intra = ((q @ k.transpose(-1, -2)) * decay)
    qd = q * c.exp()[..., None]
    kd = k * (c[..., -1:] - c).exp()[..., None]
    S = torch.zeros(B, H, dk, dv)
    outs = []
    for i in range(n):
        vn = u[:, :, i] - w[:, :, i] @ S
        outs.append(qd[:, :, i] @ S + intra[:, :, i] @ vn)
        S = S * c[:, :, i, -1].exp()[..., None, None] + kd[:, :, i].transpose(-1, -2) @ vn
    o = torch.stack(outs, 2).reshape(B, H, n * CHUNK, dv)[:, :, :T]
    return o, S


def conv_silu(cfg, x, weight):
    """Causal depthwise conv over time: x [B, T, C], weight [C, 1, K]."""
    y = F.conv1d(x.transpose(1, 2), weight, padding=cfg.kernel - 1, groups=x.shape[-1])[..., : x.shape[1]]
    return F.silu(y).transpose(1, 2)


def gated_deltanet(cfg, W, p, x, lora, scaling, mode):
    B, T, _ = x.shape
    a = p + "linear_attn."
    mixed = conv_silu(cfg, linear(x, W, a + "in_proj_qkv.weight", lora, scaling), W[a + "conv1d.weight"])
    kd, vd = cfg.nk * cfg.dk, cfg.nv * cfg.dv
    q, k, v = mixed[..., :kd], mixed[..., kd:2 * kd], mixed[..., 2 * kd:]
    z = linear(x, W, a + "in_proj_z.weight", lora, scaling).view(B, T, cfg.nv, cfg.dv)
    beta = torch.sigmoid(x @ W[a + "in_proj_b.weight"].T)
    g = -W[a + "A_log"].exp() * F.softplus(x @ W[a + "in_proj_a.weight"].T + W[a + "dt_bias"])
    rep = cfg.nv // cfg.nk
    q = l2norm(q.view(B, T, cfg.nk, cfg.dk)).repeat_interleave(rep, 2).transpose(1, 2) * cfg.dk ** -0.5
    k = l2norm(k.view(B, T, cfg.nk, cfg.dk)).repeat_interleave(rep, 2).transpose(1, 2)
    v = v.view(B, T, cfg.nv, cfg.dv).transpose(1, 2)
    fn = delta_rule_chunked if mode == "chunked" else delta_rule_recurrent
    o, _ = fn(q, k, v, g.transpose(1, 2), beta.transpose(1, 2))
    o = o.transpose(1, 2)  # [B, T, nv, dv]
    o = rmsnorm(o, W[a + "norm.weight"], cfg.eps, one_plus=False) * F.silu(z)
    return linear(o.reshape(B, T, vd), W, a + "out_proj.weight", lora, scaling)


def forward(cfg, W, ids, lora=None, scaling=0.0, mode="chunked"):
    B, T = ids.shape
    positions = torch.arange(T)[None].expand(B, T)
    h = W["model.embed_tokens.weight"][ids]
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        x = rmsnorm(h, W[p + "input_layernorm.weight"], cfg.eps)
        if cfg.types[i] == "linear_attention":
            h = h + gated_deltanet(cfg, W, p, x, lora, scaling, mode)
        else:
            h = h + full_attention(cfg, W, p, x, positions, lora, scaling)
        x = rmsnorm(h, W[p + "post_attention_layernorm.weight"], cfg.eps)
        act = F.silu(linear(x, W, p + "mlp.gate_proj.weight", lora, scaling)) * linear(x, W, p + "mlp.up_proj.weight", lora, scaling)
        h = h + linear(act, W, p + "mlp.down_proj.weight", lora, scaling)
    h = rmsnorm(h, W["model.norm.weight"], cfg.eps)
    head = W["model.embed_tokens.weight"] if cfg.tied else W["lm_head.weight"]
    return h @ head.T


# LoRA modules: PEFT's short name -> the submodule it sits under.
MODULE_KIND = {
    "q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
    "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp",
    "in_proj_qkv": "linear_attn", "in_proj_z": "linear_attn", "out_proj": "linear_attn",
}


def random_weights(cfg, gen):
    def rnd(*shape, s=0.2):
        return (torch.randn(*shape, generator=gen) * s).to(torch.float32).to(torch.float64)

    D, hd = cfg.hidden, cfg.hd
    W = {"model.embed_tokens.weight": rnd(cfg.vocab, D, s=1.0), "model.norm.weight": rnd(D, s=0.1)}
    if not cfg.tied:
        W["lm_head.weight"] = rnd(cfg.vocab, D)
    kd, vd = cfg.nk * cfg.dk, cfg.nv * cfg.dv
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        W[p + "input_layernorm.weight"] = rnd(D, s=0.1)
        W[p + "post_attention_layernorm.weight"] = rnd(D, s=0.1)
        W[p + "mlp.gate_proj.weight"] = rnd(cfg.inter, D)
        W[p + "mlp.up_proj.weight"] = rnd(cfg.inter, D)
        W[p + "mlp.down_proj.weight"] = rnd(D, cfg.inter)
        if cfg.types[i] == "full_attention":
            W[p + "self_attn.q_proj.weight"] = rnd(2 * cfg.heads * hd, D)
            W[p + "self_attn.k_proj.weight"] = rnd(cfg.kv * hd, D)
            W[p + "self_attn.v_proj.weight"] = rnd(cfg.kv * hd, D)
            W[p + "self_attn.o_proj.weight"] = rnd(D, cfg.heads * hd)
            W[p + "self_attn.q_norm.weight"] = rnd(hd, s=0.1)
            W[p + "self_attn.k_norm.weight"] = rnd(hd, s=0.1)
        else:
            a = p + "linear_attn."
            W[a + "in_proj_qkv.weight"] = rnd(2 * kd + vd, D)
            W[a + "in_proj_z.weight"] = rnd(vd, D)
            W[a + "in_proj_b.weight"] = rnd(cfg.nv, D)
            W[a + "in_proj_a.weight"] = rnd(cfg.nv, D)
            W[a + "conv1d.weight"] = rnd(2 * kd + vd, 1, cfg.kernel, s=0.5)
            W[a + "dt_bias"] = rnd(cfg.nv, s=0.5) + 1
            # A in (0.01, 2): decays exp(g) from near 1 to well below, so a chunk's cumulative decay spans a wide range.
            W[a + "A_log"] = (torch.rand(cfg.nv, generator=gen) * 5.3 - 4.6).to(torch.float32).to(torch.float64)
            W[a + "norm.weight"] = 1 + rnd(cfg.dv, s=0.1)
            W[a + "out_proj.weight"] = rnd(D, vd)
    return W


def lora_shape(cfg, i, m):
    D, hd, kd, vd = cfg.hidden, cfg.hd, cfg.nk * cfg.dk, cfg.nv * cfg.dv
    return {
        "q_proj": (2 * cfg.heads * hd, D), "k_proj": (cfg.kv * hd, D), "v_proj": (cfg.kv * hd, D),
        "o_proj": (D, cfg.heads * hd), "gate_proj": (cfg.inter, D), "up_proj": (cfg.inter, D),
        "down_proj": (D, cfg.inter), "in_proj_qkv": (2 * kd + vd, D), "in_proj_z": (vd, D), "out_proj": (D, vd),
    }[m]


def layer_has(cfg, i, m):
    kind = MODULE_KIND[m]
    return kind == "mlp" or (kind == "self_attn") == (cfg.types[i] == "full_attention")


TEXT = {
    "vocab_size": 96, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 4,
    "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
    "linear_num_key_heads": 2, "linear_num_value_heads": 4, "linear_key_head_dim": 8, "linear_value_head_dim": 8,
    "linear_conv_kernel_dim": 4, "rms_norm_eps": 1e-6, "hidden_act": "silu", "max_position_embeddings": 512,
    "layer_types": ["linear_attention", "linear_attention", "linear_attention", "full_attention"],
    "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25,
                        "mrope_section": [1, 1, 0], "mrope_interleaved": True},
    "bos_token_id": 1, "eos_token_id": 2,
}

VARIANTS = [
    {
        "name": "qwen35_text_tied",
        "description": "Qwen3.5 text model (Qwen3_5ForCausalLM): 3 Gated DeltaNet + 1 gated full-attention layer, "
                       "2 key / 4 value linear heads, GQA 2/1, partial rotary 0.25, tied embeddings, 70 tokens "
                       "(> one chunk of 64), LoRA r=4 on every target",
        "config": dict(TEXT, architectures=["Qwen3_5ForCausalLM"], model_type="qwen3_5_text", tie_word_embeddings=True),
        "seqLen": 70,
        "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "in_proj_qkv", "in_proj_z", "out_proj"],
    },
    {
        "name": "qwen35_multimodal_untied",
        "description": "Qwen3_5ForConditionalGeneration checkpoint (text model under model.language_model., a vision "
                       "tower and MTP weights the loader leaves out), untied head, LoRA r=4 on in_proj_qkv,out_proj,q_proj",
        "config": {"architectures": ["Qwen3_5ForConditionalGeneration"], "model_type": "qwen3_5",
                   "tie_word_embeddings": False,
                   "text_config": dict(TEXT, model_type="qwen3_5_text", num_hidden_layers=4,
                                       layer_types=["linear_attention", "full_attention", "linear_attention", "linear_attention"]),
                   "vision_config": {"depth": 1, "hidden_size": 8}},
        "seqLen": 67,
        "targets": ["q_proj", "in_proj_qkv", "out_proj"],
    },
]


def peft_name(cfg, i, m, ab):
    prefix = "model.language_model." if cfg.multimodal else "model."
    return "base_model.model.%slayers.%d.%s.%s.lora_%s.weight" % (prefix, i, MODULE_KIND[m], m, ab)


def make_variant(v, seed):
    gen = torch.Generator().manual_seed(seed)
    cfg = Cfg(v["config"])
    W = random_weights(cfg, gen)
    d = os.path.join(OUT, v["name"])
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(v["config"], f, indent=2)
    stored = sorted(W.items())
    if cfg.multimodal:
        stored = [(k.replace("model.", "model.language_model.", 1) if k.startswith("model.") else k, t) for k, t in stored]
        stored.append(("model.visual.patch_embed.proj.weight", torch.randn(8, 3, 2, 2, 2, generator=gen)))
        stored.append(("mtp.fc.weight", torch.randn(cfg.hidden, 2 * cfg.hidden, generator=gen)))
    write_safetensors(os.path.join(d, "model.safetensors"), stored, {"format": "pt"})

    B, T = 2, v["seqLen"]
    ids = torch.randint(3, cfg.vocab, (B, T), generator=gen)
    ids[:, 0] = 1
    logits = forward(cfg, W, ids)
    rec = forward(cfg, W, ids, mode="recurrent")
    gap = (logits - rec).abs().max().item()
    assert gap < 1e-9, "chunked and per-token forms disagree by %g" % gap
    write_safetensors(os.path.join(d, "logits.safetensors"), [("logits", logits)])

    r, alpha = 4, 8
    scaling = alpha / r
    lora, params = {}, []
    for i in range(cfg.layers):
        for m in v["targets"]:
            if not layer_has(cfg, i, m):
                continue
            out_f, in_f = lora_shape(cfg, i, m)
            A = (torch.randn(r, in_f, generator=gen) * 0.2).to(torch.float32).to(torch.float64).requires_grad_(True)
            Bm = (torch.randn(out_f, r, generator=gen) * 0.2).to(torch.float32).to(torch.float64).requires_grad_(True)
            lora["layers.%d.%s.%s" % (i, MODULE_KIND[m], m)] = (A, Bm)
            params.append((peft_name(cfg, i, m, "A"), A))
            params.append((peft_name(cfg, i, m, "B"), Bm))
    write_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"), params)
    with open(os.path.join(d, "adapter", "adapter_config.json"), "w") as f:
        json.dump({
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
            "target_modules": v["targets"], "bias": "none", "base_model_name_or_path": v["name"],
            "fan_in_fan_out": False, "use_rslora": False, "inference_mode": True,
        }, f, indent=2)

    labels = torch.full((B, T), -100, dtype=torch.long)
    labels[:, :-1] = ids[:, 1:]
    labels[0, :2] = -100
    labels[1, 3] = -100
    weights = (labels != -100).to(torch.float64)
    weights[1, 1] = 0.5
    lora_logits = forward(cfg, W, ids, lora, scaling)
    logp = torch.log_softmax(lora_logits, -1)
    nll = -logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0]
    loss = (nll * weights).sum()
    loss.backward()
    write_safetensors(os.path.join(d, "lora_logits.safetensors"), [("logits", lora_logits)])
    write_safetensors(os.path.join(d, "lora_grads.safetensors"), [(n, p.grad) for n, p in params])

    # Greedy path from a short prompt, recomputing the whole prefix each step (per-token form).
    prompt = ids[0, :3].tolist()
    toks, margin = [], float("inf")
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(10):
            last = forward(cfg, W, torch.tensor([seq]), mode="recurrent")[0, -1]
            top = last.topk(2).values
            margin = min(margin, (top[0] - top[1]).item())
            t = int(last.argmax())
            toks.append(t)
            seq.append(t)
    return {
        "name": v["name"], "description": v["description"], "modelDir": v["name"], "inputIds": ids.tolist(),
        "logitsFile": v["name"] + "/logits.safetensors", "chunkedVsRecurrentMaxDiff": gap,
        "lora": {
            "r": r, "alpha": alpha, "useRslora": False, "scaling": scaling, "targets": v["targets"],
            "adapterDir": v["name"] + "/adapter", "logitsFile": v["name"] + "/lora_logits.safetensors",
            "labels": labels.tolist(), "weights": weights.tolist(),
            "lossSum": loss.item(), "weightSum": weights.sum().item(),
            "gradsFile": v["name"] + "/lora_grads.safetensors",
        },
        "greedy": {"promptIds": prompt, "tokens": toks, "minMargin": margin},
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        "version": 1,
        "generator": "scripts/reference/qwen35_reference.py (torch %s, float64 math, F32 stored)" % torch.__version__,
        "models": [make_variant(v, 3500 + k) for k, v in enumerate(VARIANTS)],
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
