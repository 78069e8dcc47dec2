#!/usr/bin/env python3
"""Times torch.nn.functional.ctc_loss forward + backward on the GPU (torch's native CUDA kernel:
int64 targets, which keeps torch off its cuDNN path; and, with --cudnn, the cuDNN path where torch
takes it: int32 targets on the CPU, blank 0, all input lengths T, L <= 256) at the shape of
bench/ctc_gpu_bench.c, timed with CUDA events, and prints one JSON line like it.
usage: torch_ctc_gpu.py [B T L V ITERS] [--cudnn]"""
import json
import sys

import torch
import torch.nn.functional as F


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    cudnn = "--cudnn" in sys.argv
    b, t, l, v, iters = (int(a) for a in args) if args else (32, 500, 100, 32, 50)
    if not torch.cuda.is_available():
        print(json.dumps({"kernel": "ctc", "impl": "torch", "error": "no CUDA device visible to torch"}))
        return
    dev = torch.device("cuda")
    g = torch.Generator(device="cpu").manual_seed(0)
    lp = F.log_softmax(torch.randn(t, b, v, generator=g), dim=-1).to(dev).requires_grad_(True)
    if cudnn:
        targets = torch.randint(1, v, (b * l,), generator=g, dtype=torch.int32)  # concatenated, CPU
        il = torch.full((b,), t, dtype=torch.int32)
        tl = torch.full((b,), l, dtype=torch.int32)
    else:
        targets = torch.randint(1, v, (b, l), generator=g).to(dev)
        il = torch.full((b,), t, dtype=torch.long, device=dev)
        tl = torch.full((b,), l, dtype=torch.long, device=dev)
    start = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    stop = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    mid = [torch.cuda.Event(enable_timing=True) for _ in range(iters)]
    for i in range(iters + 3):
        lp.grad = None
        if i >= 3:
            start[i - 3].record()
        loss = F.ctc_loss(lp, targets, il, tl, blank=0, reduction="sum")
        if i >= 3:
            mid[i - 3].record()
        loss.backward()
        if i >= 3:
            stop[i - 3].record()
    torch.cuda.synchronize()
    ms = sorted(s.elapsed_time(e) for s, e in zip(start, stop))
    fms = sorted(s.elapsed_time(e) for s, e in zip(start, mid))
    print(json.dumps({"kernel": "ctc", "impl": "torch_cudnn" if cudnn else "torch", "B": b, "T": t, "L": l, "V": v,
                      "loss": loss.item(), "ms_median": ms[len(ms) // 2], "ms_best": ms[0],
                      "fwd_ms_median": fms[len(fms) // 2]}))


if __name__ == "__main__":
    main()
