#!/usr/bin/env python3
"""The PyTorch side of `downstream bench`: the same fine-tuning step (forward, backward, AdamW)
of a stack of transformers' own BertLayer modules at the same shape, on the CPU in fp32, with
the same padding pattern and dropout 0.1. Prints one JSON object with the same keys.

usage: torch_encoder_step.py [--layers 6 --hidden 384 --heads 12 --intermediate 1536
                              --batch 8 --seq-len 128 --warmup 2 --repeats 10 --threads 2]
"""
import argparse
import json
import os
import time

import torch
from transformers import BertConfig
from transformers.models.bert.modeling_bert import BertLayer


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(layers=6, hidden=384, heads=12, intermediate=1536, batch=8, seq_len=128, warmup=2,
                     repeats=10, threads=os.cpu_count()).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = BertConfig(hidden_size=a.hidden, num_attention_heads=a.heads, intermediate_size=a.intermediate,
                     hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    cfg._attn_implementation = "sdpa"
    layers = torch.nn.ModuleList([BertLayer(cfg) for _ in range(a.layers)]).train()
    decay = [q for n, q in layers.named_parameters() if q.ndim == 2]
    no_decay = [q for n, q in layers.named_parameters() if q.ndim != 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5)
    B, T, H = a.batch, a.seq_len, a.hidden
    mask = torch.ones(B, T)
    mask[1::2, T - T // 8:] = 0  # every other sequence padded over its last eighth, as ours
    additive = (1.0 - mask[:, None, None, :]) * torch.finfo(torch.float32).min
    x = torch.rand(B, T, H) * 2 - 1
    dy = (torch.rand(B, T, H) * 2 - 1) / (B * T)

    def step():
        opt.zero_grad(set_to_none=False)
        h = x
        for layer in layers:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        h.backward(dy)
        opt.step()

    times = []
    for i in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    med = times[len(times) // 2]
    p90 = times[max(0, -(-9 * len(times) // 10) - 1)]
    flops = 3 * a.layers * (2 * B * T * (4 * H * H + 2 * H * a.intermediate) + 4 * B * T * T * H)
    print(json.dumps({"device": "cpu", "framework": f"torch {torch.__version__} eager fp32", "layers": a.layers,
                      "batch": B, "seq_len": T, "threads": a.threads, "samples_per_s": B / med,
                      "tokens_per_s": B * T / med, "step_ms_median": 1e3 * med, "step_ms_p90": 1e3 * p90,
                      "achieved_gflops": flops / med / 1e9}))


if __name__ == "__main__":
    main()
