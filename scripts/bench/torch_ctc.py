#!/usr/bin/env python3
"""Times torch.nn.functional.ctc_loss forward + backward (w.r.t. the log-probs, which torch
returns as the logits' gradient) at the shapes bench/ctc_cpu_bench.c uses, and prints one JSON
line like it. usage: torch_ctc.py B T L V ITERS THREADS"""
import json
import sys
import time

import torch
import torch.nn.functional as F


def main():
    b, t, l, v, iters, threads = (int(a) for a in sys.argv[1:7])
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    lp = F.log_softmax(torch.randn(t, b, v, generator=g), dim=-1).requires_grad_(True)
    targets = torch.randint(1, v, (b, l), generator=g)
    il = torch.full((b,), t, dtype=torch.long)
    tl = torch.full((b,), l, dtype=torch.long)
    ms = []
    for i in range(iters + 3):  # 3 warm-up iterations
        lp.grad = None
        t0 = time.perf_counter()
        loss = F.ctc_loss(lp, targets, il, tl, blank=0, reduction="sum")
        loss.backward()
        if i >= 3:
            ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    print(json.dumps({"B": b, "T": t, "L": l, "V": v, "loss": loss.item(), "ms_median": ms[len(ms) // 2],
                      "ms_best": ms[0]}))


if __name__ == "__main__":
    main()
