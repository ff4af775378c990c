#!/usr/bin/python3
"""
tunekit's independent PyTorch reference for the decoder families the engine runs (Llama, Mistral,
Qwen2, Qwen3, Gemma 3 text, SmolLM3). NOT Hugging Face transformers (not installed here): written from
transformers' modeling_*.py / configuration_*.py, config reading included. Run with Debian's torch:

    /usr/bin/python3 scripts/reference/decoder_reference.py          # writes test/fixtures/reference/

It writes small committed fixtures that the TypeScript engine is tested against (CI has no torch).

FIXTURE FORMAT (test/fixtures/reference/)
-----------------------------------------
manifest.json:
{
  "version": 1,
  "generator": "scripts/reference/decoder_reference.py (torch <version>, float64 math)",
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
      },
      "greedy": {                               # new families only: greedy decoding with the KV cache
        "promptIds": [1, 10, 31], "tokens": [...],   # 10-12 new tokens (checked against a full recompute)
        "minMargin": 0.02                       # smallest top-1 / top-2 logit gap on the path
      } } ],
  "greedy": {                                   # only when ../shared/fixtures/models/stories260K exists
    "model": "stories260K", "promptIds": [1], "maxNewTokens": 64,
    "tokens": [...],                            # new token ids (greedy argmax; stops after EOS if produced)
    "text": "Once upon a time, ..."             # decoded with the model's tokenizer.json vocabulary
  }
}

Model math (what the engine must reproduce):
  h = embed[ids]  (Gemma 3: times sqrt(hidden) cast to the checkpoint's torch_dtype)
  per layer: x = norm(h, w_in);  q,k,v = x W^T (+ bias);  Qwen3/Gemma 3: q,k = norm(q,k per head over
  head_dim);  rotary on q,k with the layer's rope (rotate-half convention, inv_freq = theta^(-2i/d),
  llama3 or linear scaling), none on SmolLM3's NoPE layers;  softmax(scale q k^T + mask) v with GQA (kv
  head j serves query heads j*g .. j*g+g-1), scale 1/sqrt(d) (Gemma 3: query_pre_attn_scalar^-0.5), mask
  causal plus the layer's sliding window (key pos > query pos - window);  o = o_proj (+ bias);
  Llama-style: h += o;  x = norm(h, w_post);  h += down(act(gate x) * up x)
  Gemma 3:     h += norm(o, w_post_attn);  x = norm(h, w_pre_ff);  h += norm(down(...), w_post_ff)
  logits = norm(h, w_norm) @ (lm_head or embed)^T
  norm(x, w) = x / sqrt(mean(x^2) + eps) * w  (Gemma 3: * (1 + w));  act = silu (Gemma 3: gelu tanh).
  LoRA: W' = W + scaling * B @ A.  Per-family config reading (defaults, layer types, rope per layer
  type, sliding windows) is in Cfg below.
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

# Gemma3TextConfig's defaults (configuration_gemma3.py): a multimodal checkpoint's text_config relies on them.
GEMMA3_TEXT_DEFAULTS = {
    "vocab_size": 262208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh",
    "max_position_embeddings": 131072, "rms_norm_eps": 1e-6, "bos_token_id": 2, "eos_token_id": 1,
    "tie_word_embeddings": True, "rope_theta": 1000000.0, "attention_bias": False, "query_pre_attn_scalar": 256,
    "sliding_window": 4096, "rope_local_base_freq": 10000.0,
}
FAMILY = {
    "LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2",
    "Qwen3ForCausalLM": "qwen3", "SmolLM3ForCausalLM": "smollm3",
    "Gemma3ForCausalLM": "gemma3", "Gemma3ForConditionalGeneration": "gemma3",
}


def rope_from(params, theta):
    """A rope parameter dict (rope_scaling / rope_parameters entry) -> (theta, scaling dict or None)."""
    if not params:
        return (theta, None)
    kind = params.get("rope_type") or params.get("type") or "default"
    theta = params.get("rope_theta", theta)
    if kind == "default":
        return (theta, None)
    assert kind in ("llama3", "linear"), kind
    return (theta, params)


class Cfg:
    """config.json read the way transformers' configuration classes read it, per family."""

    def __init__(self, c):
        self.raw = c
        self.arch = c["architectures"][0]
        fam = self.family = FAMILY[self.arch]
        self.multimodal = self.arch == "Gemma3ForConditionalGeneration"
        if fam == "gemma3":
            t = dict(GEMMA3_TEXT_DEFAULTS)
            if self.multimodal:
                for k in ("bos_token_id", "eos_token_id", "tie_word_embeddings", "torch_dtype"):
                    if c.get(k) is not None:
                        t[k] = c[k]
                t.update(c["text_config"])
            else:
                t.update(c)
            c = t
        self.hidden = c["hidden_size"]
        self.inter = c["intermediate_size"]
        self.layers = c["num_hidden_layers"]
        self.heads = c["num_attention_heads"]
        self.kv = c.get("num_key_value_heads", self.heads)
        self.head_dim = c.get("head_dim") or (128 if fam == "qwen3" else self.hidden // self.heads)
        self.vocab = c["vocab_size"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.theta = c.get("rope_theta", {"smollm3": 2000000.0, "gemma3": 1000000.0}.get(fam, 10000.0))
        self.tied = c.get("tie_word_embeddings", fam in ("smollm3", "gemma3"))
        attention_bias = c.get("attention_bias", False)
        self.bias = fam == "qwen2" or (fam not in ("mistral",) and attention_bias)
        self.o_bias = fam not in ("qwen2", "mistral") and attention_bias
        self.qk_norm = fam in ("qwen3", "gemma3")
        self.sandwich = fam == "gemma3"
        self.norm_offset = 1.0 if fam == "gemma3" else 0.0
        self.act = "gelu_tanh" if fam == "gemma3" else "silu"
        self.attn_scale = c.get("query_pre_attn_scalar", 256) ** -0.5 if fam == "gemma3" else None
        self.embed_scale = None
        if fam == "gemma3":
            # Gemma3TextScaledWordEmbedding: sqrt(hidden) cast to the weights' dtype.
            dt = {"bfloat16": torch.bfloat16, "float16": torch.float16}.get(c.get("torch_dtype"), torch.float32)
            self.embed_scale = torch.tensor(self.hidden ** 0.5).to(dt).to(torch.float64)
        rope = rope_from(c.get("rope_parameters") if isinstance(c.get("rope_parameters"), dict) and "rope_type" in c["rope_parameters"] else c.get("rope_scaling"), self.theta)
        self.rope_scaling = rope[1]
        n = self.layers
        # Per layer: (theta, scaling) or None (no position embedding), and the sliding window or None.
        if fam == "mistral":
            self.layer_rope = [rope] * n
            self.layer_window = [c.get("sliding_window")] * n
        elif fam in ("qwen2", "qwen3"):
            sw = c.get("sliding_window") if c.get("use_sliding_window", False) else None
            types = c.get("layer_types") or ["sliding_attention" if sw is not None and i >= c.get("max_window_layers", 28) else "full_attention" for i in range(n)]
            self.layer_rope = [rope] * n
            self.layer_window = [sw if types[i] == "sliding_attention" else None for i in range(n)]
        elif fam == "smollm3":
            nrl = c.get("no_rope_layers") or [int((i + 1) % c.get("no_rope_layer_interval", 4) != 0) for i in range(n)]
            sw = c.get("sliding_window")
            use_sw = c.get("use_sliding_window", False)
            types = c.get("layer_types") or ["sliding_attention" if use_sw and sw is not None and not nrl[i] else "full_attention" for i in range(n)]
            self.layer_rope = [rope if nrl[i] else None for i in range(n)]
            self.layer_window = [sw if use_sw and types[i] == "sliding_attention" else None for i in range(n)]
        elif fam == "gemma3":
            pattern = c.get("sliding_window_pattern", c.get("_sliding_window_pattern", 6))
            types = c.get("layer_types") or ["sliding_attention" if (i + 1) % pattern else "full_attention" for i in range(n)]
            rp = c.get("rope_parameters")
            if isinstance(rp, dict) and ("full_attention" in rp or "sliding_attention" in rp):
                full = rope_from(rp.get("full_attention"), self.theta)
                local = rope_from(rp.get("sliding_attention"), c.get("rope_local_base_freq", 10000.0))
            else:
                full = rope_from(c.get("rope_scaling"), self.theta)
                local = (c.get("rope_local_base_freq", 10000.0), None)
            self.layer_rope = [local if t == "sliding_attention" else full for t in types]
            self.layer_window = [c["sliding_window"] if t == "sliding_attention" else None for t in types]
        else:  # llama
            self.layer_rope = [rope] * n
            self.layer_window = [None] * n
        self.window = self.layer_window[0]
        self.prefix = "model."


def inv_freq(cfg, rope=None):
    theta, rs = rope if rope is not None else (cfg.theta, cfg.rope_scaling)
    d = cfg.head_dim
    f = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
    if rs and (rs.get("rope_type") or rs.get("type")) == "linear":
        return f / rs["factor"]
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
    h = W["model.embed_tokens.weight"][ids]
    if cfg.embed_scale is not None:
        h = h * cfg.embed_scale.to(h.dtype)
    g = cfg.heads // cfg.kv
    D = cfg.head_dim
    qi = pos[:, None]
    kj = torch.arange(P + T)[None, :]
    masks = {}
    for window in set(cfg.layer_window):
        allowed = kj <= qi
        if window:
            allowed = allowed & (kj > qi - window)
        m = torch.zeros(T, P + T, dtype=h.dtype)
        m[~allowed] = float("-inf")
        masks[window] = m
    off = cfg.norm_offset
    norm = (lambda x, w: rmsnorm(x, w, cfg.eps)) if off == 0 else (lambda x, w: rmsnorm(x, off + w, cfg.eps))
    cache = []
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        L = lambda m: None if lora is None else lora.get("layers.%d.%s" % (i, m))
        x = norm(h, W[p + "input_layernorm.weight"])
        bq = W.get(p + "self_attn.q_proj.bias") if cfg.bias else None
        bk = W.get(p + "self_attn.k_proj.bias") if cfg.bias else None
        bv = W.get(p + "self_attn.v_proj.bias") if cfg.bias else None
        q = linear(x, W[p + "self_attn.q_proj.weight"], bq, L("q_proj"), scaling).view(B, T, cfg.heads, D)
        k = linear(x, W[p + "self_attn.k_proj.weight"], bk, L("k_proj"), scaling).view(B, T, cfg.kv, D)
        v = linear(x, W[p + "self_attn.v_proj.weight"], bv, L("v_proj"), scaling).view(B, T, cfg.kv, D).transpose(1, 2)
        if cfg.qk_norm:  # per head, over head_dim, before RoPE
            q = norm(q, W[p + "self_attn.q_norm.weight"])
            k = norm(k, W[p + "self_attn.k_norm.weight"])
        q = q.transpose(1, 2)
        k = k.transpose(1, 2)
        rope = cfg.layer_rope[i]
        if rope is not None:
            freqs = inv_freq(cfg, rope)
            q = rotary(q, pos, freqs)
            k = rotary(k, pos, freqs)
        if past is not None:
            k = torch.cat([past[i][0], k], 2)
            v = torch.cat([past[i][1], v], 2)
        cache.append((k, v))
        kk = k.repeat_interleave(g, dim=1)
        vv = v.repeat_interleave(g, dim=1)
        scores = (q @ kk.transpose(-1, -2)) / math.sqrt(D) if cfg.attn_scale is None else (q @ kk.transpose(-1, -2)) * cfg.attn_scale
        att = torch.softmax(scores + masks[cfg.layer_window[i]], -1)
        o = (att @ vv).transpose(1, 2).reshape(B, T, cfg.heads * D)
        o = linear(o, W[p + "self_attn.o_proj.weight"], W.get(p + "self_attn.o_proj.bias") if cfg.o_bias else None, L("o_proj"), scaling)
        if cfg.sandwich:
            o = norm(o, W[p + "post_attention_layernorm.weight"])
            h = h + o
            x = norm(h, W[p + "pre_feedforward_layernorm.weight"])
        else:
            h = h + o
            x = norm(h, W[p + "post_attention_layernorm.weight"])
        gt = linear(x, W[p + "mlp.gate_proj.weight"], None, L("gate_proj"), scaling)
        up = linear(x, W[p + "mlp.up_proj.weight"], None, L("up_proj"), scaling)
        act = torch.nn.functional.silu(gt) if cfg.act == "silu" else torch.nn.functional.gelu(gt, approximate="tanh")
        d = linear(act * up, W[p + "mlp.down_proj.weight"], None, L("down_proj"), scaling)
        if cfg.sandwich:
            d = norm(d, W[p + "post_feedforward_layernorm.weight"])
        h = h + d
    if last_only:  # inference: only the next-token logits are needed
        h = h[:, -1:]
    h = norm(h, W["model.norm.weight"])
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
    # Norm weights near 1, or near 0 where the norm scales by (1 + w) (Gemma stores them zero-centred).
    nw = lambda n: (1 - cfg.norm_offset) + r(n, std=0.1)
    W = {"model.embed_tokens.weight": r(cfg.vocab, cfg.hidden, std=0.5)}
    for i in range(cfg.layers):
        p = "model.layers.%d." % i
        W[p + "input_layernorm.weight"] = nw(cfg.hidden)
        W[p + "post_attention_layernorm.weight"] = nw(cfg.hidden)
        for m in MODULE_KIND:
            W[p + "%s.%s.weight" % (MODULE_KIND[m], m)] = r(*module_shape(cfg, m))
        if cfg.bias:
            for m in ("q_proj", "k_proj", "v_proj"):
                W[p + "self_attn.%s.bias" % m] = r(module_shape(cfg, m)[0], std=0.1)
        if cfg.o_bias:
            W[p + "self_attn.o_proj.bias"] = r(cfg.hidden, std=0.1)
        if cfg.qk_norm:
            W[p + "self_attn.q_norm.weight"] = nw(cfg.head_dim)
            W[p + "self_attn.k_norm.weight"] = nw(cfg.head_dim)
        if cfg.sandwich:
            W[p + "pre_feedforward_layernorm.weight"] = nw(cfg.hidden)
            W[p + "post_feedforward_layernorm.weight"] = nw(cfg.hidden)
    W["model.norm.weight"] = nw(cfg.hidden)
    if not cfg.tied:
        W["lm_head.weight"] = r(cfg.vocab, cfg.hidden, std=0.3)
    # Round to float32 so the stored F32 weights are exactly what the reference computes with.
    return {k: v.to(torch.float32).to(torch.float64) for k, v in W.items()}


def peft_name(i, m, ab, cfg=None):
    # PEFT wraps the whole model: a Gemma3ForConditionalGeneration's text layers sit under model.language_model.
    prefix = "model.language_model." if cfg is not None and cfg.multimodal else "model."
    return "base_model.model.%slayers.%d.%s.%s.lora_%s.weight" % (prefix, i, MODULE_KIND[m], m, ab)


def stored_weights(cfg, W, gen):
    """The checkpoint's tensors: our names, or (multimodal) the language model's under language_model.*
    (the layout transformers < 4.52 saved) plus a few vision tensors the loader must leave alone."""
    if not cfg.multimodal:
        return sorted(W.items())
    out = [("language_model." + k, v) for k, v in W.items()]
    out.append(("vision_tower.vision_model.embeddings.patch_embedding.weight", torch.randn(4, 3, 2, 2, generator=gen)))
    out.append(("multi_modal_projector.mm_input_projection_weight", torch.randn(4, cfg.hidden, generator=gen)))
    return sorted(out)


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
    {
        "name": "qwen3_headdim_tied",
        "description": "Qwen3: q/k norms, head_dim 16 != hidden/heads 8, tied, sliding window 4 on layer 1 (use_sliding_window, max_window_layers 1), LoRA r=4 alpha=8 on all linear layers",
        "config": {
            "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "vocab_size": 64, "hidden_size": 32,
            "head_dim": 16, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
            "hidden_act": "silu", "tie_word_embeddings": True, "attention_bias": False, "use_sliding_window": True,
            "sliding_window": 4, "max_window_layers": 1, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
        },
        "lora": {"r": 4, "alpha": 8, "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "rslora": False},
        "seqLen": 9,
        "greedy": 12,
    },
    {
        "name": "gemma3_text_untied",
        "description": "Gemma 3 text: (1+w) norms, four per layer, q/k norms, GELU-tanh, embeddings x sqrt(hidden), query_pre_attn_scalar 16 with head_dim 12, layer_types sliding/full/sliding with window 4 over 10 tokens, local rope 10k, full rope 1M with linear x8 scaling, untied, LoRA r=2 alpha=4 on q,v,gate,down",
        "config": {
            "architectures": ["Gemma3ForCausalLM"], "model_type": "gemma3_text", "vocab_size": 64, "hidden_size": 24,
            "head_dim": 12, "intermediate_size": 40, "num_hidden_layers": 3, "num_attention_heads": 4,
            "num_key_value_heads": 2, "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0, "rope_scaling": {"rope_type": "linear", "factor": 8.0},
            "query_pre_attn_scalar": 16, "sliding_window": 4,
            "layer_types": ["sliding_attention", "full_attention", "sliding_attention"],
            "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": False, "attention_bias": False,
            "attn_logit_softcapping": None, "final_logit_softcapping": None, "use_bidirectional_attention": False,
            "bos_token_id": 2, "eos_token_id": 1, "pad_token_id": 0, "torch_dtype": "float32",
        },
        "lora": {"r": 2, "alpha": 4, "targets": ["q_proj", "v_proj", "gate_proj", "down_proj"], "rslora": False},
        "seqLen": 10,
        "greedy": 12,
    },
    {
        "name": "gemma3_multimodal_tied",
        "description": "Gemma3ForConditionalGeneration (text model only; weights under language_model.*, vision tensors ignored): text_config with transformers' defaults filled in, sliding_window_pattern 2 (no layer_types), window 3 over 9 tokens, rope_parameters per layer type, tied, torch_dtype bfloat16 (sqrt(hidden) rounded to bf16), rsLoRA r=4 alpha=4 on q,k,o,up",
        "config": {
            "architectures": ["Gemma3ForConditionalGeneration"], "model_type": "gemma3", "torch_dtype": "bfloat16",
            "eos_token_id": [1, 106],
            "text_config": {
                "model_type": "gemma3_text", "vocab_size": 48, "hidden_size": 20, "head_dim": 8, "intermediate_size": 36,
                "num_hidden_layers": 2, "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 128,
                "sliding_window": 3, "sliding_window_pattern": 2, "query_pre_attn_scalar": 8,
                "rope_parameters": {"sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
                                    "full_attention": {"rope_type": "default", "rope_theta": 1000000.0}},
            },
            "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 4, "image_size": 4, "patch_size": 2},
            "mm_tokens_per_image": 4,
        },
        "lora": {"r": 4, "alpha": 4, "targets": ["q_proj", "k_proj", "o_proj", "up_proj"], "rslora": True},
        "seqLen": 9,
        "greedy": 10,
    },
    {
        "name": "smollm3_nope",
        "description": "SmolLM3: no RoPE on layers 1 and 3 (no_rope_layer_interval 2), tied by default, rope_theta default 2M, 4 layers, LoRA r=2 alpha=2 on all linear layers",
        "config": {
            "architectures": ["SmolLM3ForCausalLM"], "model_type": "smollm3", "vocab_size": 56, "hidden_size": 32,
            "intermediate_size": 48, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
            "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "no_rope_layer_interval": 2, "hidden_act": "silu",
            "use_sliding_window": False, "attention_bias": False, "mlp_bias": False,
            "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
        },
        "lora": {"r": 2, "alpha": 2, "targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "rslora": False},
        "seqLen": 9,
        "greedy": 12,
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
    write_safetensors(os.path.join(d, "model.safetensors"), stored_weights(cfg, W, gen), {"format": "pt"})

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
            params.append((peft_name(i, m, "A", cfg), A))
            params.append((peft_name(i, m, "B", cfg), Bm))
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
    entry = {
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
    if v.get("greedy"):
        # The first prompt whose greedy path has no near-tie (a clear winner at every step).
        for row in range(B):
            prompt = ids[row, :3].tolist()
            toks = greedy_tokens(cfg, W, prompt, v["greedy"])
            margin = greedy_margin(cfg, W, prompt, toks)
            if margin > 1e-3:
                break
        assert margin > 1e-3, "no prompt with a clear greedy path"
        entry["greedy"] = {"promptIds": prompt, "tokens": toks, "minMargin": margin}
    return entry


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
    return greedy_tokens(cfg, W, prompt_ids, n, stop_at_eos=True)


def greedy_tokens(cfg, W, prompt_ids, n, stop_at_eos=False):
    """Greedy decoding with the KV cache, checked against a full recompute."""
    eos = cfg.raw.get("eos_token_id") if stop_at_eos else None
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


def greedy_margin(cfg, W, prompt_ids, out):
    """The smallest gap between the best and second-best logit over the greedy steps (a float32
    implementation can only be held to the same tokens where this is not tiny)."""
    full, _ = forward(cfg, W, torch.tensor([prompt_ids + out[:-1]]))
    top = full[0, len(prompt_ids) - 1:].topk(2, -1).values
    return float((top[:, 0] - top[:, 1]).min())


def main():
    os.makedirs(OUT, exist_ok=True)
    manifest = {
        "version": 1,
        "generator": "scripts/reference/decoder_reference.py (torch %s, float64 math, F32 stored)" % torch.__version__,
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
