#!/usr/bin/python3
"""
PyTorch CPU baseline for bench/inference.ts: prefill and KV-cache decode of a Llama-family model with
tunekit's reference implementation (decoder_reference.py), float32, no autograd.

    GOMP_SPINCOUNT=0 /usr/bin/python3 scripts/reference/inference_baseline.py MODEL_DIR PROMPT_LEN DECODE_TOKENS RUNS THREADS [WARMUP]

WARMUP (default 0) prefills run first and are not reported (allocators and caches settle in the first few).

Prints one JSON line: {"prefill_tokens_per_s": [...per run], "decode_tokens_per_s": [...], "peak_rss_mb": N,
"first_tokens": [...]} (greedy tokens of the last run, to check both sides computed the same thing).
"""
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import decoder_reference as ref  # noqa: E402
import torch  # noqa: E402

torch.set_default_dtype(torch.float32)


def main():
    model_dir, prompt_len, decode_tokens, runs, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    warmup = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    torch.set_num_threads(threads)
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = ref.Cfg(json.load(f))
    W = {k: v.contiguous() for k, v in ref.read_safetensors(os.path.join(model_dir, "model.safetensors"), torch.float32).items()}
    with open(os.path.join(model_dir, "prompt.json")) as f:
        prompt = json.load(f)[:prompt_len]
    prefill, decode = [], []
    toks = []
    with torch.no_grad():
        for _ in range(warmup):
            ref.forward(cfg, W, torch.tensor([prompt]), last_only=True)
        for _ in range(runs):
            t0 = time.perf_counter()
            logits, cache = ref.forward(cfg, W, torch.tensor([prompt]), last_only=True)
            t1 = time.perf_counter()
            toks = [int(torch.argmax(logits[0, -1]))]
            t2 = time.perf_counter()
            for _ in range(decode_tokens - 1):
                logits, cache = ref.forward(cfg, W, torch.tensor([[toks[-1]]]), past=cache)
                toks.append(int(torch.argmax(logits[0, -1])))
            t3 = time.perf_counter()
            prefill.append(len(prompt) / (t1 - t0))
            decode.append((decode_tokens - 1) / (t3 - t2))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"prefill_tokens_per_s": prefill, "decode_tokens_per_s": decode, "peak_rss_mb": rss_mb, "first_tokens": toks}))


if __name__ == "__main__":
    main()
