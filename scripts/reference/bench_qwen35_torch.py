#!/usr/bin/python3
"""
PyTorch peer for bench/qwen35.ts: one LoRA training step (forward with the chunked delta rule,
cross-entropy, backward) of scripts/reference/qwen35_reference.py's model in float32 at a given shape,
random weights. Prints JSON {"stepMs": [...], "maxRssKb": N}.

    /usr/bin/python3 scripts/reference/bench_qwen35_torch.py CONFIG_JSON SEQ_LEN STEPS
"""
import json
import resource
import sys
import time

import torch

sys.path.insert(0, __import__("os").path.dirname(__file__))
import qwen35_reference as ref  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.set_num_threads(2)


def main():
    raw = json.load(open(sys.argv[1]))
    T, steps = int(sys.argv[2]), int(sys.argv[3])
    cfg = ref.Cfg(raw)
    gen = torch.Generator().manual_seed(1)
    W = {k: v.float() for k, v in ref.random_weights(cfg, gen).items()}
    r, lora = 16, {}
    for i in range(cfg.layers):
        for m in ref.MODULE_KIND:
            if ref.layer_has(cfg, i, m):
                o, n = ref.lora_shape(cfg, i, m)
                lora["layers.%d.%s.%s" % (i, ref.MODULE_KIND[m], m)] = (
                    (torch.randn(r, n) * 0.01).requires_grad_(True), torch.zeros(o, r).requires_grad_(True))
    ids = torch.randint(3, cfg.vocab, (1, T), generator=gen)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        logits = ref.forward(cfg, W, ids, lora, 2.0)
        loss = torch.nn.functional.cross_entropy(logits[0, :-1], ids[0, 1:], reduction="sum")
        loss.backward()
        times.append((time.perf_counter() - t0) * 1000)
    print(json.dumps({"stepMs": times, "maxRssKb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))


if __name__ == "__main__":
    main()
