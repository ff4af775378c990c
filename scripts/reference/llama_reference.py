#!/usr/bin/python3
"""
tunekit's independent PyTorch reference for the Llama family (NOT Hugging Face transformers: written
from the architecture's definition). Run with Debian's torch (no other packages):

    /usr/bin/python3 scripts/reference/llama_reference.py            # writes test/fixtures/reference/

It writes small committed fixtures that the TypeScript engine is tested against (CI has no torch).

FIXTURE FORMAT (test/fixtures/reference/)
-----------------------------------------
manifest.json:
{
  "version": 1,
  "generator": "scripts/reference/llama_reference.py (torch <version>, float64 math)",
  "models": [ {
      "name": "llama_gqa_tied",                 # folder test/fixtures/reference/<name>/
      "description": "...",
      "modelDir": "llama_gqa_tied",             # HF layout: config.json + model.safetensors (F32)
      "inputIds": [[...], [...]],               # [B][T] token ids (no padding; all rows the same length)
      "logitsFile": "llama_gqa_tied/logits.safetensors",   # tensor "logits" F32 [B, T, V] (base model)
      "lora": {
        "r": 4, "alpha": 8, "useRslora": false,
        "scaling": 2.0,                         # alpha/r, or alpha/sqrt(r) with rsLoRA
        "targets": ["q_proj", "v_proj"],        # module short names
        "adapterDir": "llama_gqa_tied/adapter", # PEFT folder: adapter_config.json + adapter_model.safetensors
                                                # names base_model.model.model.layers.{i}.self_attn.q_proj.lora_A.weight [r,in]
                                                #       ...lora_B.weight [out,r]  (random NONZERO A and B)
        "logitsFile": "llama_gqa_tied/lora_logits.safetensors",  # "logits" [B,T,V] with W + scaling*B@A
        "labels": [[...]],                      # [B][T] target id for position t (already shifted), -100 = ignored
        "weights": [[...]],                     # [B][T] float loss weight per position (0 where ignored)
        "lossSum": 12.3,                        # sum_t weights[b][t] * CE(logits[b,t], labels[b,t])
        "weightSum": 9.0,                       # sum of weights (lossSum / weightSum = mean loss)
        "gradsFile": "llama_gqa_tied/lora_grads.safetensors"  # d lossSum / d param, same PEFT names as the adapter
      } } ],
  "greedy": {                                   # only when ../shared/fixtures/models/stories260K exists
    "model": "stories260K", "promptIds": [1], "maxNewTokens": 64,
    "tokens": [...],                            # new token ids (greedy argmax; stops after EOS if produced)
    "text": "Once upon a time, ..."             # decoded with the model's tokenizer.json vocabulary
  }
}

Model math (what the engine must reproduce):
  h = embed[ids]
  per layer: x = rmsnorm(h) * w_in;  q,k,v = x W^T (+ bias);  rotary on q,k (rotate-half convention,
  inv_freq = theta^(-2i/d), llama3 scaling when configured);  causal softmax(q k^T / sqrt(d)) v with
  GQA (kv head j serves query heads j*g .. j*g+g-1), optional sliding window (key pos > query pos - window);
  h += o_proj;  x = rmsnorm(h) * w_post;  h += down(silu(gate x) * up x)
  logits = rmsnorm(h) * w_norm  @ (lm_head or embed)^T
  rmsnorm(x) = x / sqrt(mean(x^2) + eps).   LoRA: W' = W + scaling * B @ A.
"""
import json
import math
import os
import struct
import sys

import torch

torch.set_default_dtype(torch.float64)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures", "reference")
STORIES = os.path.abspath(os.path.join(ROOT, "..", "shared", "fixtures", "models", "stories260K"))

# --------------------------------------------------------------------------- safetensors by hand

DT = {"F32": (torch.float32, 4), "F16": (torch.float16, 2), "BF16": (torch.bfloat16, 2), "F64": (torch.float64, 8)}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, tensor). Stored as F32."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    off = 0
    for name, t in tensors:
        b = t.detach().to(torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        off += len(b)
        blobs.append(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path, dtype=torch.float64):
    """Reads tensors one at a time (never the whole file at once) and converts them to `dtype`."""
    out = {}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        for name, e in header.items():
            if name == "__metadata__":
                continue
            dt, size = DT[e["dtype"]]
            a, b = e["data_offsets"]
            if b > a:
                f.seek(8 + n + a)
                t = torch.frombuffer(bytearray(f.read(b - a)), dtype=dt).reshape(e["shape"])
            else:
                t = torch.zeros(e["shape"], dtype=dt)
            out[name] = t.to(dtype)
    return out


# --------------------------------------------------------------------------- the model


class Cfg:
    def __init__(self, c):
        self.raw = c
        self.arch = c["architectures"][0]
        self.hidden = c["hidden_size"]
        self.inter = c["intermediate_size"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or self.hidden // self.heads
        self.vocab = c["vocab_size"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", 10000.0)
        self.tied = c.get("tie_word_embeddings", False)
        self.bias = self.arch == "Qwen2ForCausalLM" or c.get("attention_bias", False)
        self.rope_scaling = c.get("rope_scaling")
        sw = c.get("sliding_window")
        if self.arch == "Qwen2ForCausalLM" and not c.get("use_sliding_window", False):
            sw = None
        self.window = sw


def inv_freq(cfg):
    d = cfg.head_dim
    f = 1.0 / (cfg.theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    rs = cfg.rope_scaling
    if rs and (rs.get("rope_type") or rs.get("type")) == "llama3":
        factor, lo, hi, orig = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wl, high_wl = orig / lo, orig / hi
        out = []
        for x in f.tolist():
            wl = 2 * math.pi / x
            if wl < high_wl:
                out.append(x)
            elif wl > low_wl:
                out.append(x / factor)
            else:
                s = (orig / wl - lo) / (hi - lo)
                out.append((1 - s) * x / factor + s * x)
        f = torch.tensor(out, dtype=torch.float64)
    return f


def rotary(x, positions, freqs):
    # x [B, H, T, D]; rotate-half convention: pairs (i, i + D/2).
    ang = positions[:, None].to(torch.float64) * freqs[None, :]  # [T, D/2]
    cos = torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype)
    d = x.shape[-1] // 2
    rot = torch.cat([-x[..., d:], x[..., :d]], -1)
    return x * cos + rot * sin


def rmsnorm(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def linear(x, W, b=None, lora=None, scaling=0.0):
    y = x @ W.t()
    if b is not None:
        y = y + b
    if lora is not None:
        A, B = lora
        y = y + scaling * ((x @ A.t()) @ B.t())
    return y


def forward(cfg, W, ids, lora=None, scaling=0.0, past=None, last_only=False):
    """ids [B, T]. lora: dict short-name-key -> (A, B) where key = 'layers.{i}.{module}'.
    past: list of (k, v) per layer with [B, KV, P, D] (KV cache) or None. Returns logits, new cache."""
    B, T = ids.shape
    P = 0 if past is None else past[0][0].shape[2]
    pos = torch.arange(P, P + T)
    freqs = inv_freq(cfg)
    h = W["model.embed_tokens.weight"][ids]
    g = cfg.heads // cfg.kv
    D = cfg.head_dim
    qi = pos[:, None]
    kj = torch.arange(P + T)[None, :]
    allowed = kj <= qi
    if cfg.window:
        allowed = allowed & (kj > qi - cfg.window)
    mask = torch.zeros(T, P + T, dtype=h.dtype)
    mask[~allowed] = float("-inf")
    cache = []
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        L = lambda m: None if lora is None else lora.get("layers.%d.%s" % (i, m))
        x = rmsnorm(h, W[p + "input_layernorm.weight"], cfg.eps)
        bq = W.get(p + "self_attn.q_proj.bias") if cfg.bias else None
        bk = W.get(p + "self_attn.k_proj.bias") if cfg.bias else None
        bv = W.get(p + "self_attn.v_proj.bias") if cfg.bias else None
        q = linear(x, W[p + "self_attn.q_proj.weight"], bq, L("q_proj"), scaling).view(B, T, cfg.heads, D).transpose(1, 2)
        k = linear(x, W[p + "self_attn.k_proj.weight"], bk, L("k_proj"), scaling).view(B, T, cfg.kv, D).transpose(1, 2)
        v = linear(x, W[p + "self_attn.v_proj.weight"], bv, L("v_proj"), scaling).view(B, T, cfg.kv, D).transpose(1, 2)
        q = rotary(q, pos, freqs)
        k = rotary(k, pos, freqs)
        if past is not None:
            k = torch.cat([past[i][0], k], 2)
            v = torch.cat([past[i][1], v], 2)
        cache.append((k, v))
        kk = k.repeat_interleave(g, dim=1)
        vv = v.repeat_interleave(g, dim=1)
        att = (q @ kk.transpose(-1, -2)) / math.sqrt(D) + mask
        att = torch.softmax(att, -1)
        o = (att @ vv).transpose(1, 2).reshape(B, T, cfg.heads * D)
        h = h + linear(o, W[p + "self_attn.o_proj.weight"], None, L("o_proj"), scaling)
        x = rmsnorm(h, W[p + "post_attention_layernorm.weight"], cfg.eps)
        gt = linear(x, W[p + "mlp.gate_proj.weight"], None, L("gate_proj"), scaling)
        up = linear(x, W[p + "mlp.up_proj.weight"], None, L("up_proj"), scaling)
        h = h + linear(torch.nn.functional.silu(gt) * up, W[p + "mlp.down_proj.weight"], None, L("down_proj"), scaling)
    if last_only:  # inference: only the next-token logits are needed
        h = h[:, -1:]
    h = rmsnorm(h, W["model.norm.weight"], cfg.eps)
    head = W["model.embed_tokens.weight"] if cfg.tied else W["lm_head.weight"]
    return h @ head.t(), cache


# --------------------------------------------------------------------------- random tiny models

MODULE_KIND = {
    "q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
    "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp",
}


def module_shape(cfg, m):
    H, D = cfg.hidden, cfg.head_dim
    return {
        "q_proj": (cfg.heads * D, H), "k_proj": (cfg.kv * D, H), "v_proj": (cfg.kv * D, H),
        "o_proj": (H, cfg.heads * D), "gate_proj": (cfg.inter, H), "up_proj": (cfg.inter, H),
        "down_proj": (H, cfg.inter),
    }[m]


def random_weights(cfg, gen):
    r = lambda *s, std=0.15: (torch.randn(*s, generator=gen) * std)
    W = {"model.embed_tokens.weight": r(cfg.vocab, cfg.hidden, std=0.5)}
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        W[p + "input_layernorm.weight"] = 1 + r(cfg.hidden, std=0.1)
        W[p + "post_attention_layernorm.weight"] = 1 + r(cfg.hidden, std=0.1)
        for m in MODULE_KIND:
            W[p + "%s.%s.weight" % (MODULE_KIND[m], m)] = r(*module_shape(cfg, m))
        if cfg.bias:
            for m in ("q_proj", "k_proj", "v_proj"):
                W[p + "self_attn.%s.bias" % m] = r(module_shape(cfg, m)[0], std=0.1)
    W["model.norm.weight"] = 1 + r(cfg.hidden, std=0.1)
    if not cfg.tied:
        W["lm_head.weight"] = r(cfg.vocab, cfg.hidden, std=0.3)
    # Round to float32 so the stored F32 weights are exactly what the reference computes with.
    return {k: v.to(torch.float32).to(torch.float64) for k, v in W.items()}


def peft_name(i, m, ab):
    return "base_model.model.model.layers.%d.%s.%s.lora_%s.weight" % (i, MODULE_KIND[m], m, ab)


VARIANTS = [
    {
        "name": "llama_gqa_tied",
        "description": "Llama, GQA 4 query / 2 KV heads, tied embeddings, LoRA r=4 alpha=8 on q,v",
        "config": {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
            "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "hidden_act": "silu",
            "tie_word_embeddings": True, "attention_bias": False, "bos_token_id": 1, "eos_token_id": 2,
            "torch_dtype": "float32",
        },
        "lora": {"r": 4, "alpha": 8, "targets": ["q_proj", "v_proj"], "rslora": False},
        "seqLen": 9,
    },
    {
        "name": "qwen2_bias_untied",
        "description": "Qwen2: q/k/v biases (no attention_bias flag), 4 query / 1 KV head, untied lm_head, LoRA r=2 alpha=4 on all linear layers",
        "config": {
            "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 80, "hidden_size": 32,
            "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1,
            "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "hidden_act": "silu",
            "tie_word_embeddings": False, "sliding_window": 4, "use_sliding_window": False,
            "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
        },
        "lora": {"r": 2, "alpha": 4, "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "rslora": False},
        "seqLen": 8,
    },
    {
        "name": "llama3_rope_scaling",
        "description": "Llama 3 style: llama3 rope scaling, explicit head_dim 16 (!= hidden/heads), 4/2 heads, untied, rsLoRA r=4 alpha=4 on q,k,v,o",
        "config": {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 64, "hidden_size": 32,
            "head_dim": 16, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
            "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                             "original_max_position_embeddings": 8192, "rope_type": "llama3"},
            "hidden_act": "silu", "tie_word_embeddings": False, "attention_bias": False,
            "bos_token_id": 1, "eos_token_id": [2, 3], "torch_dtype": "float32",
        },
        "lora": {"r": 4, "alpha": 4, "targets": ["q_proj", "k_proj", "v_proj", "o_proj"], "rslora": True},
        "seqLen": 10,
        "positionOffset": 0,
    },
    {
        "name": "mistral_sliding_window",
        "description": "Mistral with sliding_window 4 over 9 tokens, 4/2 heads, untied, LoRA r=2 alpha=2 on q,v,down",
        "config": {
            "architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": 48, "hidden_size": 24,
            "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "sliding_window": 4,
            "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2,
            "torch_dtype": "float32",
        },
        "lora": {"r": 2, "alpha": 2, "targets": ["q_proj", "v_proj", "down_proj"], "rslora": False},
        "seqLen": 9,
    },
]


def make_variant(v, seed):
    gen = torch.Generator().manual_seed(seed)
    cfg = Cfg(v["config"])
    W = random_weights(cfg, gen)
    d = os.path.join(OUT, v["name"])
    os.makedirs(os.path.join(d, "adapter"), exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(v["config"], f, indent=2)
    write_safetensors(os.path.join(d, "model.safetensors"), sorted(W.items()), {"format": "pt"})

    B, T = 2, v["seqLen"]
    ids = torch.randint(3, cfg.vocab, (B, T), generator=gen)
    ids[:, 0] = 1
    logits, _ = forward(cfg, W, ids)
    write_safetensors(os.path.join(d, "logits.safetensors"), [("logits", logits)])

    lc = v["lora"]
    r, alpha = lc["r"], lc["alpha"]
    scaling = alpha / math.sqrt(r) if lc["rslora"] else alpha / r
    lora = {}
    params = []
    for i in range(cfg.layers):
        for m in lc["targets"]:
            out_f, in_f = module_shape(cfg, m)
            A = (torch.randn(r, in_f, generator=gen) * 0.2).to(torch.float32).to(torch.float64).requires_grad_(True)
            Bm = (torch.randn(out_f, r, generator=gen) * 0.2).to(torch.float32).to(torch.float64).requires_grad_(True)
            lora["layers.%d.%s" % (i, m)] = (A, Bm)
            params.append((peft_name(i, m, "A"), A))
            params.append((peft_name(i, m, "B"), Bm))
    write_safetensors(os.path.join(d, "adapter", "adapter_model.safetensors"), params)
    with open(os.path.join(d, "adapter", "adapter_config.json"), "w") as f:
        json.dump({
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": r, "lora_alpha": alpha, "lora_dropout": 0.0,
            "target_modules": lc["targets"], "bias": "none", "base_model_name_or_path": v["name"],
            "fan_in_fan_out": False, "use_rslora": lc["rslora"], "inference_mode": True,
        }, f, indent=2)

    # Targets: next tokens, last position ignored, a few masked positions, one row with fractional weights.
    labels = torch.full((B, T), -100, dtype=torch.long)
    labels[:, :-1] = ids[:, 1:]
    labels[0, :2] = -100  # "prompt" tokens
    labels[1, 3] = -100
    weights = (labels != -100).to(torch.float64)
    weights[1, 1] = 0.5
    lora_logits, _ = forward(cfg, W, ids, lora, scaling)
    logp = torch.log_softmax(lora_logits, -1)
    safe = labels.clamp(min=0)
    nll = -logp.gather(-1, safe[..., None])[..., 0]
    loss = (nll * weights).sum()
    loss.backward()
    write_safetensors(os.path.join(d, "lora_logits.safetensors"), [("logits", lora_logits)])
    write_safetensors(os.path.join(d, "lora_grads.safetensors"), [(n, p.grad) for n, p in params])
    return {
        "name": v["name"],
        "description": v["description"],
        "modelDir": v["name"],
        "inputIds": ids.tolist(),
        "logitsFile": v["name"] + "/logits.safetensors",
        "lora": {
            "r": r, "alpha": alpha, "useRslora": lc["rslora"], "scaling": scaling, "targets": lc["targets"],
            "adapterDir": v["name"] + "/adapter",
            "logitsFile": v["name"] + "/lora_logits.safetensors",
            "labels": labels.tolist(), "weights": weights.tolist(),
            "lossSum": loss.item(), "weightSum": weights.sum().item(),
            "gradsFile": v["name"] + "/lora_grads.safetensors",
        },
    }


# --------------------------------------------------------------------------- stories260K greedy


def decode_pieces(tok, ids):
    vocab = {v: k for k, v in tok["model"]["vocab"].items()}
    out = bytearray()
    for i in ids:
        p = vocab[i]
        if p.startswith("<0x") and p.endswith(">") and len(p) == 6:
            out.append(int(p[3:5], 16))
        elif p in ("<s>", "</s>", "<unk>"):
            continue
        else:
            out += p.replace("\u2581", " ").encode()
    s = out.decode("utf-8", errors="replace")
    return s[1:] if s.startswith(" ") else s


def greedy(model_dir, prompt_ids, n):
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = Cfg(json.load(f))
    W = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    eos = cfg.raw.get("eos_token_id")
    ids = torch.tensor([prompt_ids])
    out = []
    logits, cache = forward(cfg, W, ids)
    # Cross-check the KV-cache path against a full recompute on the first step.
    for step in range(n):
        nxt = int(torch.argmax(logits[0, -1]).item())
        out.append(nxt)
        if nxt == eos:
            break
        logits, cache = forward(cfg, W, torch.tensor([[nxt]]), past=cache)
    full, _ = forward(cfg, W, torch.tensor([prompt_ids + out[:-1]]))
    assert all(int(torch.argmax(full[0, len(prompt_ids) - 1 + j]).item()) == out[j] for j in range(len(out))), "KV cache mismatch"
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        "version": 1,
        "generator": "scripts/reference/llama_reference.py (torch %s, float64 math, F32 stored)" % torch.__version__,
        "models": [make_variant(v, 1234 + k) for k, v in enumerate(VARIANTS)],
    }
    if os.path.isdir(STORIES):
        toks = greedy(STORIES, [1], 64)
        with open(os.path.join(STORIES, "tokenizer.json")) as f:
            tok = json.load(f)
        manifest["greedy"] = {"model": "stories260K", "promptIds": [1], "maxNewTokens": 64, "tokens": toks,
                              "text": decode_pieces(tok, toks)}
        print("stories260K greedy:", manifest["greedy"]["text"])
    else:
        print("NOTE: %s missing, no greedy fixture" % STORIES, file=sys.stderr)
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
