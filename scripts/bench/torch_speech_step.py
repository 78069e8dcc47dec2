#!/usr/bin/env python3
"""The PyTorch side of `downstream bench --set task.type=speech_ctc`: the same training step of
transformers' Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=32)) (wav2vec2-base's architecture, random
weights; dropout, LayerDrop and SpecAugment at the config's defaults) in train mode, fp32 on the
CPU, the feature encoder frozen (model.freeze_feature_encoder(), the recipe's default): forward on
random audio with random transcripts (~12 characters a second, ids 1..31), CTC loss ("sum", the
config's default), backward, clip_grad_norm_(1.0), torch.optim.AdamW(lr 1e-5, weight decay 0.01),
zero_grad. Prints one JSON object with the keys of ours: samples_per_s, step_ms_median,
step_ms_p90, first_step_s, peak_mem_bytes (max RSS from getrusage).

On a GPU (--device cuda) the same step runs on the device, timed between torch.cuda.synchronize()
calls, with --amp bf16 (torch.autocast(dtype=torch.bfloat16) over the forward and the loss, which
HF computes in fp32 (log_softmax in float32, ctc_loss); fp32 weights and AdamW, no GradScaler) or
fp32 (TF32 off, like ours), the attention as the config's default attn_implementation picks it;
peak_mem_bytes is then torch.cuda.max_memory_allocated(). The GPU bench:
scripts/bench/gpu_families_vs_torch.sh.

usage: torch_speech_step.py [--batch 2 --seconds 4 --warmup 2 --repeats 10 --threads 2 --no-freeze
                             --device cpu|cuda --amp fp32|bf16]
"""
import argparse
import contextlib
import json
import math
import resource
import time

START = time.time()

import torch  # noqa: E402
from transformers import Wav2Vec2Config, Wav2Vec2ForCTC  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-freeze", action="store_true")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--amp", choices=("fp32", "bf16"), default="fp32")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cuda = a.device == "cuda"
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, as ours
        torch.backends.cudnn.allow_tf32 = False
    model = Wav2Vec2ForCTC(Wav2Vec2Config(vocab_size=32)).to(a.device)
    if not a.no_freeze:
        model.freeze_feature_encoder()
    model.train()
    opt = torch.optim.AdamW([q for q in model.parameters() if q.requires_grad], lr=1e-5, weight_decay=0.01)
    S, L = round(a.seconds * 16000), math.ceil(a.seconds * 12)
    x = (torch.rand(a.batch, S) * 2 - 1).to(a.device)
    y = torch.randint(1, 32, (a.batch, L)).to(a.device)
    amp = (torch.autocast(device_type=a.device, dtype=torch.bfloat16) if a.amp == "bf16"
           else contextlib.nullcontext())
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times, first, loss = [], None, None
    for i in range(a.warmup + a.repeats):
        sync()
        t0 = time.perf_counter()
        with amp:
            loss = model(input_values=x, labels=y).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=False)
        sync()
        t1 = time.perf_counter()
        if i == 0:
            first = time.time() - START
        if i >= a.warmup:
            times.append(t1 - t0)
    times.sort()
    med = times[len(times) // 2]
    p90 = times[max(0, math.ceil(0.9 * len(times)) - 1)]
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({"device": torch.cuda.get_device_name() if cuda else "cpu", "framework": "torch",
                      "precision": a.amp, "model": "wav2vec2", "batch": a.batch, "seconds": a.seconds,
                      "frozen_encoder": not a.no_freeze, "threads": torch.get_num_threads(),
                      "params": sum(q.numel() for q in model.parameters()),
                      "samples_per_s": a.batch / med, "step_ms_median": 1e3 * med, "step_ms_p90": 1e3 * p90,
                      "first_step_s": first, "last_loss": float(loss.detach()),
                      "peak_mem_bytes": peak}))


if __name__ == "__main__":
    main()
