#!/usr/bin/env python3
"""The PyTorch side of `downstream bench --set task.type=segmentation`: the same training step of
torchvision's deeplabv3_resnet50 / _resnet101 (weights=None, num_classes, aux_loss=True) in train
mode, fp32 on the CPU: forward, cross_entropy(out) + 0.5 * cross_entropy(aux) on random masks,
backward, torch.optim.SGD(momentum 0.9, weight decay 1e-4; lr 0.01, the aux head at 10x as
torchvision's recipe), zero_grad. A narrower model (--width < 64) rebuilds every Conv2d/BatchNorm2d
at c * width / 64 channels (scripts/fixtures/deeplab.py's narrowing). Prints one JSON object with
the keys of ours: samples_per_s, step_ms_median, step_ms_p90, first_step_s, peak_mem_bytes (the
process's max RSS, from getrusage; /usr/bin/time -v reports the same number).

On a GPU (--device cuda) the same step runs on the device, timed between torch.cuda.synchronize()
calls, with --amp bf16 (torch.autocast(dtype=torch.bfloat16) over forward and loss, fp32 weights
and SGD, no GradScaler: bf16 needs none) or fp32 (TF32 off, like ours), in channels_last memory
format (--channels-last, model and input) and cudnn.benchmark (--cudnn-benchmark); peak_mem_bytes
is then torch.cuda.max_memory_allocated(). The GPU bench: scripts/bench/gpu_families_vs_torch.sh.

usage: torch_seg_step.py [--batch 2 --size 256 --width 64 --depth 50 --classes 21 --warmup 2
                          --repeats 10 --threads 2 --device cpu|cuda --amp fp32|bf16
                          --channels-last --cudnn-benchmark]
"""
import argparse
import contextlib
import json
import resource
import time

START = time.time()

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101  # noqa: E402


def narrow(model, width, classes):
    def f(c):
        return c * width // 64
    for name, mod in list(model.named_modules()):
        for cname, child in list(mod.named_children()):
            full = f"{name}.{cname}" if name else cname
            if isinstance(child, nn.Conv2d):
                cin = child.in_channels if full == "backbone.conv1" else f(child.in_channels)
                cout = classes if full in ("classifier.4", "aux_classifier.4") else f(child.out_channels)
                setattr(mod, cname, nn.Conv2d(cin, cout, child.kernel_size, child.stride, child.padding,
                                              child.dilation, child.groups, child.bias is not None))
            elif isinstance(child, nn.BatchNorm2d):
                setattr(mod, cname, nn.BatchNorm2d(f(child.num_features)))
    return model


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(batch=2, size=256, width=64, depth=50, classes=21, warmup=2, repeats=10, threads=2).items():
        p.add_argument("--" + k, type=int, default=v)
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--amp", choices=("fp32", "bf16"), default="fp32")
    p.add_argument("--channels-last", action="store_true")
    p.add_argument("--cudnn-benchmark", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cuda = a.device == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = a.cudnn_benchmark
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, as ours
        torch.backends.cudnn.allow_tf32 = False
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    build = {50: deeplabv3_resnet50, 101: deeplabv3_resnet101}[a.depth]
    model = build(weights=None, weights_backbone=None, num_classes=a.classes, aux_loss=True)
    if a.width != 64:
        model = narrow(model, a.width, a.classes)
    model = model.to(a.device, memory_format=fmt)
    model.train()
    groups = [{"params": [q for n, q in model.named_parameters() if not n.startswith("aux_classifier")]},
              {"params": [q for n, q in model.named_parameters() if n.startswith("aux_classifier")], "lr": 0.1}]
    opt = torch.optim.SGD(groups, lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = (torch.rand(a.batch, 3, a.size, a.size) * 4 - 2).to(a.device).contiguous(memory_format=fmt)
    y = torch.randint(0, a.classes, (a.batch, a.size, a.size)).to(a.device)
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
            out = model(x)
            loss = (F.cross_entropy(out["out"], y, ignore_index=255) +
                    0.5 * F.cross_entropy(out["aux"], y, ignore_index=255))
        loss.backward()
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
    p90 = times[max(int(-(-0.9 * len(times) // 1)) - 1, 0)]
    peak = (torch.cuda.max_memory_allocated() if cuda
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({"device": torch.cuda.get_device_name() if cuda else "cpu", "framework": "torch",
                      "torch": torch.__version__, "precision": a.amp, "channels_last": a.channels_last,
                      "model": f"deeplabv3_resnet{a.depth}", "width": a.width, "classes": a.classes, "aux": True,
                      "batch": a.batch, "image_size": a.size, "threads": a.threads,
                      "params": sum(q.numel() for q in model.parameters()),
                      "samples_per_s": round(a.batch / med, 3), "step_ms_median": round(1e3 * med, 3),
                      "step_ms_p90": round(1e3 * p90, 3), "first_step_s": round(first, 3),
                      "peak_mem_bytes": peak,
                      "last_loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
