#!/usr/bin/python3
"""PyTorch CPU peer for bench/train.ts and bench/families.ts: one LoRA training step (forward, backward, AdamW) of any family
tunekit runs, on a model folder (config.json + model.safetensors), with tunekit's PyTorch reference
(decoder_reference.py: the model math and config reading written from transformers' source) in
float32 with autograd. LoRA r on every linear layer (nn.Parameters, kaiming-uniform A, zero B), the
frozen weights plain tensors, torch's standard cross-entropy over the full vocabulary (mean over the
batch's tokens), AdamW. Prints one JSON line: step seconds (each, after one warm-up step), the median,
tokens/s, peak RSS.

    GOMP_SPINCOUNT=0 /usr/bin/python3 scripts/reference/bench_train_family_torch.py MODEL_DIR STEPS THREADS [BATCH SEQ RANK]
"""
import json
import math
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder_reference as ref  # noqa: E402
import torch  # noqa: E402

torch.set_default_dtype(torch.float32)


def main():
    model_dir, steps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    B, T, R = (int(x) for x in (sys.argv[4:7] if len(sys.argv) > 6 else (4, 256, 16)))
    alpha = 2.0 * R
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = ref.Cfg(json.load(f))
    stored = ref.read_safetensors(os.path.join(model_dir, "model.safetensors"), torch.float32)
    W = {}
    for k, v in stored.items():
        if k.startswith("language_model."):
            k = k[len("language_model."):]
        W[k] = v.contiguous()
    lora = {}
    params = []
    for i in range(cfg.layers):
        for m in ref.MODULE_KIND:
            out_f, in_f = ref.module_shape(cfg, m)
            A = torch.nn.Parameter(torch.empty(R, in_f))
            torch.nn.init.kaiming_uniform_(A, a=math.sqrt(5))
            Bm = torch.nn.Parameter(torch.zeros(out_f, R))
            lora["layers.%d.%s" % (i, m)] = (A, Bm)
            params += [A, Bm]
    opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.0)
    ids = torch.randint(0, min(cfg.vocab, 250), (B, T))
    targets = torch.randint(0, min(cfg.vocab, 250), (B, T))
    times = []
    for i in range(steps + 1):
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        logits, _ = ref.forward(cfg, W, ids, lora, alpha / R)
        loss = torch.nn.functional.cross_entropy(logits.view(-1, cfg.vocab), targets.view(-1))
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t0
        if i > 0:  # the first step warms up allocators and kernels
            times.append(dt)
    med = sorted(times)[len(times) // 2]
    print(json.dumps({
        "stepSeconds": times,
        "medianSeconds": med,
        "tokensPerSecond": B * T / med,
        "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "loraParams": sum(p.numel() for p in params),
        "torch": torch.__version__,
        "threads": threads,
    }))


if __name__ == "__main__":
    main()
