#!/usr/bin/env python3
"""The PyTorch side of `downstream bench --set task.type=segmentation`: the same training step of
torchvision's deeplabv3_resnet50 / _resnet101 (weights=None, num_classes, aux_loss=True) in train
mode, fp32 on the CPU: forward, cross_entropy(out) + 0.5 * cross_entropy(aux) on random masks,
backward, torch.optim.SGD(momentum 0.9, weight decay 1e-4; lr 0.01, the aux head at 10x as
torchvision's recipe), zero_grad. A narrower model (--width < 64) rebuilds every Conv2d/BatchNorm2d
at c * width / 64 channels (scripts/fixtures/deeplab.py's narrowing). Prints one JSON object with
the keys of ours: samples_per_s, step_ms_median, step_ms_p90, first_step_s, peak_mem_bytes (the
process's max RSS, from getrusage; /usr/bin/time -v reports the same number).

usage: torch_seg_step.py [--batch 2 --size 256 --width 64 --depth 50 --classes 21 --warmup 2
                          --repeats 10 --threads 2]
"""
import argparse
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
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    build = {50: deeplabv3_resnet50, 101: deeplabv3_resnet101}[a.depth]
    model = build(weights=None, weights_backbone=None, num_classes=a.classes, aux_loss=True)
    if a.width != 64:
        model = narrow(model, a.width, a.classes)
    model.train()
    groups = [{"params": [q for n, q in model.named_parameters() if not n.startswith("aux_classifier")]},
              {"params": [q for n, q in model.named_parameters() if n.startswith("aux_classifier")], "lr": 0.1}]
    opt = torch.optim.SGD(groups, lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.rand(a.batch, 3, a.size, a.size) * 4 - 2
    y = torch.randint(0, a.classes, (a.batch, a.size, a.size))
    times, first, loss = [], None, None
    for i in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        out = model(x)
        loss = F.cross_entropy(out["out"], y, ignore_index=255) + 0.5 * F.cross_entropy(out["aux"], y, ignore_index=255)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=False)
        t1 = time.perf_counter()
        if i == 0:
            first = time.time() - START
        if i >= a.warmup:
            times.append(t1 - t0)
    times.sort()
    med = times[len(times) // 2]
    p90 = times[max(int(-(-0.9 * len(times) // 1)) - 1, 0)]
    print(json.dumps({"device": "cpu", "framework": "torch", "torch": torch.__version__,
                      "model": f"deeplabv3_resnet{a.depth}", "width": a.width, "classes": a.classes, "aux": True,
                      "batch": a.batch, "image_size": a.size, "threads": a.threads,
                      "params": sum(q.numel() for q in model.parameters()),
                      "samples_per_s": round(a.batch / med, 3), "step_ms_median": round(1e3 * med, 3),
                      "step_ms_p90": round(1e3 * p90, 3), "first_step_s": round(first, 3),
                      "peak_mem_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "last_loss": round(loss.item(), 4)}))


if __name__ == "__main__":
    main()
