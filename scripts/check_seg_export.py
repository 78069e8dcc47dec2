#!/opt/torchenv/bin/python
"""Checks a segmentation model that `downstream train` exported against torchvision itself.

Loads <model>/model.safetensors into torchvision's deeplabv3_resnet50 / deeplabv3_resnet101
(weights=None, num_classes=K, aux_loss=aux from <model>/config.json) with load_state_dict(strict=True)
-- every tensor, BatchNorm buffers included, must match by name and shape -- and compares, in eval
mode and fp32, its logits with `downstream predict --save-logits` on a few images:
  - preprocessing as torchvision's references/segmentation evaluation: PIL convert("RGB"),
    F.resize(img, N) when --resize N is given, PILToTensor, ConvertImageDtype(float),
    Normalize(mean, std) with config.json's mean/std;
  - "out" (and "aux") (1, K, h, w): max |ours - torch| / max |torch| over the tensor;
  - the argmax masks: the share of pixels that agree (every pixel whose top two logits are further
    apart than the tolerance must agree).
A model narrower than torchvision's (config.json width < 64: the CPU demo) is torchvision's model
with every Conv2d/BatchNorm2d rebuilt at c * width / 64 channels (the stem's 3 inputs and the
classifiers' K outputs kept): torchvision's forward code on fewer channels, as
scripts/fixtures/deeplab.py builds its narrow fixture.

Pass: relative logit difference <= --tolerance (default 1e-4) on every image. Why 1e-4: both
sides compute in fp32 from the same weights and differ in summation order only (GEMM blocking,
im2col, BN statistics in double on our side), a few ulps per op (~1e-7), growing through ~60
conv+BN layers to ~1e-6..1e-5 of the largest logit; a real mistake (a wrong weight, stride,
dilation or BN buffer) is >= 1e-2.

Usage:
  /opt/torchenv/bin/python scripts/check_seg_export.py --model runs/segmentation-demo/model \
      --images data_cache/seg_demo/JPEGImages --count 4 [--resize N] [--bin build/downstream]
Exit status 0 when the check passes, 1 otherwise.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn
import torchvision.transforms.functional as F
from PIL import Image
from safetensors.torch import load_file
from torchvision.models.segmentation import deeplabv3_resnet50, deeplabv3_resnet101


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


def torch_model(model_dir):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    build = {50: deeplabv3_resnet50, 101: deeplabv3_resnet101}[cfg["depth"]]
    model = build(weights=None, weights_backbone=None, num_classes=cfg["num_classes"], aux_loss=cfg["aux"])
    if cfg["width"] != 64:
        model = narrow(model, cfg["width"], cfg["num_classes"])
    state = load_file(os.path.join(model_dir, "model.safetensors"))
    model.load_state_dict(state, strict=True)  # raises on any missing, unexpected or misshapen tensor
    return model.eval(), cfg, len(state)


def preprocess(path, cfg, resize):
    img = Image.open(path).convert("RGB")
    if resize:
        img = F.resize(img, resize)
    x = F.convert_image_dtype(F.pil_to_tensor(img), torch.float)
    return F.normalize(x, mean=cfg["mean"], std=cfg["std"]).unsqueeze(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="the exported directory")
    ap.add_argument("--images", required=True, help="a directory of .jpg/.png images")
    ap.add_argument("--count", type=int, default=4, help="images to compare (the first N by name)")
    ap.add_argument("--resize", type=int, default=0, help="shorter side for both sides (0: the image's own size)")
    ap.add_argument("--bin", default=os.path.join(os.path.dirname(__file__), "..", "build", "downstream"))
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    torch.set_num_threads(2)

    model, cfg, ntensors = torch_model(args.model)
    print(f"torchvision deeplabv3_resnet{cfg['depth']}(num_classes={cfg['num_classes']}, aux_loss={cfg['aux']}) "
          f"width {cfg['width']}: load_state_dict(strict=True) took all {ntensors} tensors")
    names = sorted(n for n in os.listdir(args.images) if n.lower().endswith((".jpg", ".jpeg", ".png")))[:args.count]
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        inputs = os.path.join(tmp, "inputs")
        os.mkdir(inputs)
        for n in names:
            os.symlink(os.path.abspath(os.path.join(args.images, n)), os.path.join(inputs, n))
        cmd = [args.bin, "predict", "--model", args.model, "--input", inputs, "--output", os.path.join(tmp, "out"),
               "--save-logits", "--quiet"]
        if args.resize:
            cmd += ["--resize", str(args.resize)]
        subprocess.run(cmd, check=True)
        worst = 0.0
        for n in names:
            ours = load_file(os.path.join(tmp, "out", os.path.splitext(n)[0] + ".safetensors"))
            with torch.no_grad():
                theirs = model(preprocess(os.path.join(args.images, n), cfg, args.resize))
            line = [n]
            for key in ("out", "aux") if cfg["aux"] else ("out",):
                a, b = ours[key], theirs[key]
                if a.shape != b.shape:
                    print(f"FAIL {n}: {key} shapes differ: ours {tuple(a.shape)}, torchvision {tuple(b.shape)}")
                    ok = False
                    continue
                rel = float((a - b).abs().max() / b.abs().max())
                worst = max(worst, rel)
                line.append(f"{key} {tuple(b.shape)} rel {rel:.2e}")
                if key == "out":
                    agree = float((a.argmax(1) == b.argmax(1)).float().mean())
                    top2 = b.topk(2, dim=1).values
                    clear = (top2[:, 0] - top2[:, 1]) > args.tolerance * float(b.abs().max()) * 10
                    must = bool((a.argmax(1) == b.argmax(1))[clear].all())
                    line.append(f"argmax agree {agree:.6f}")
                    ok = ok and must
                ok = ok and rel <= args.tolerance
            print("  " + ", ".join(line))
        print(f"{'PASS' if ok else 'FAIL'}: worst relative logit difference {worst:.2e} (tolerance {args.tolerance:g}) "
              f"over {len(names)} images")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
