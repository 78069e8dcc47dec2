#!/usr/bin/env python3
"""The PyTorch side of the kernel bench (bench/kernel_bench.c, docs/kernel_bench.md): the same
measurements with PyTorch's own CUDA kernels, same shapes, same method, same JSON keys, so that
scripts/gpu_check.sh can put the two side by side.

  attention_fwd/bwd  torch.nn.functional.scaled_dot_product_attention, flash backend forced
                     (torch.nn.attention.sdpa_kernel(SDPBackend.FLASH_ATTENTION)), bf16,
                     (B, H, T, D) = (32, 12, 512|128, 64), no mask, no dropout. Backward is
                     torch.autograd.grad of the output with a fixed dout (the flash backward
                     kernel; PyTorch's allocation of dq/dk/dv is included). FLOPs as ours:
                     forward 4 B H T^2 D, backward 2.5x forward.
  adamw              torch.optim.AdamW(fused=True) over one flat F32 tensor of 110e6 parameters:
                     reads param, grad, exp_avg, exp_avg_sq (16 B), writes param, exp_avg,
                     exp_avg_sq (12 B): 28 B per element (ours: 30, it also writes the BF16 copy).
  layernorm_fwd/bwd  aten.native_layer_norm / native_layer_norm_backward (the kernels
                     torch.nn.LayerNorm runs), x/y/dy/dx bf16, N = 16384, C = 768. gamma/beta F32
                     as ours where PyTorch accepts a bf16 input with F32 weights, otherwise bf16
                     (the "param_dtype" key says which); mean/rstd F32. Bytes counted as ours.
  gelu_fwd/bwd       aten.gelu / aten.gelu_backward (erf form), bf16, 16384 x 3072.
  copy               dst.copy_(src) on uint8 tensors of the same sizes as ours (cudaMemcpyAsync).

Method (as ours): warm-up calls, then `repeats` calls each between two CUDA events, median;
before each start event a ~0.5 ms GPU sleep keeps the device busy while Python enqueues, so the
events time the GPU work and not the interpreter; inputs rotate among ceil(3 * L2 / bytes) sets
(at most 16). A slow kernel gets fewer repeats (>= 5) so that one measurement stays within ~3 s.

Output: one JSON line per measurement on stdout (first a "device" line), a table on stderr.
usage: torch_kernels.py [--repeats 50] [--warmup 5] [--only SUBSTRING]
"""
import argparse
import json
import math
import sys

import torch

MAX_SETS = 16
SPACER_CYCLES = 1_000_000  # torch.cuda._sleep: ~0.5 ms at the H200's ~2 GHz SM clock

# Dense peaks of known parts, as kernels/cuda/gpu.cu's table (bf16 TFLOP/s, TB/s).
PEAKS = [("H200", 989.0, 4.8), ("H100", 989.0, 3.35), ("A100", 312.0, 2.04)]


def peaks_of(name):
    for part, tflops, tb_s in PEAKS:
        if part in name:
            return tflops, tb_s * 1e3
    return None, None


class Bench:
    def __init__(self, args):
        self.warmup, self.repeats, self.only = args.warmup, args.repeats, args.only
        self.budget_ms = 3000.0
        props = torch.cuda.get_device_properties(0)
        self.name = props.name
        self.l2 = getattr(props, "L2_cache_size", 50 << 20)
        self.peak_tflops, self.peak_gb_s = peaks_of(self.name)
        self.copies = {}
        self.errors = 0

    def sets_for(self, nbytes):
        return max(1, min(MAX_SETS, math.ceil(3 * self.l2 / max(nbytes, 1))))

    def wanted(self, kernel):
        return self.only is None or self.only in kernel

    def measure(self, run, nsets):
        """Median ms of run(set) with sets rotating; returns (ms, repeats)."""
        start = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        stop = [torch.cuda.Event(enable_timing=True) for _ in range(self.repeats)]
        torch.cuda.synchronize()
        torch.cuda._sleep(SPACER_CYCLES)
        start[0].record()
        run(0)
        stop[0].record()
        torch.cuda.synchronize()
        first = start[0].elapsed_time(stop[0])
        for i in range(1, self.warmup):
            run(i % nsets)
        reps = self.repeats
        if first > 0 and first * reps > self.budget_ms:
            reps = int(self.budget_ms / first)
        reps = max(5, min(reps, self.repeats))
        for r in range(reps):
            torch.cuda._sleep(SPACER_CYCLES)
            start[r].record()
            run((self.warmup + r) % nsets)
            stop[r].record()
        torch.cuda.synchronize()
        ms = sorted(start[r].elapsed_time(stop[r]) for r in range(reps))
        med = ms[reps // 2] if reps % 2 else 0.5 * (ms[reps // 2 - 1] + ms[reps // 2])
        return med, reps

    def emit(self, kernel, variant, shape, ms, reps, nsets, flops=0.0, nbytes=0.0, copy_gb_s=None, **extra):
        d = {"kernel": kernel, "variant": variant, "shape": shape, "ms_median": ms}
        s = ms * 1e-3
        if flops > 0:
            tflops = flops / s / 1e12
            d.update(flops=flops, tflops=tflops, peak_tflops=self.peak_tflops,
                     frac_of_peak=tflops / self.peak_tflops if self.peak_tflops else None, frac_of_copy_bw=None)
            line = f"{tflops:9.1f} TFLOP/s"
        else:
            gb_s = nbytes / s / 1e9
            d.update(bytes=nbytes, gb_s=gb_s, peak_gb_s=self.peak_gb_s,
                     frac_of_peak=gb_s / self.peak_gb_s if self.peak_gb_s else None,
                     frac_of_copy_bw=gb_s / copy_gb_s if copy_gb_s else None)
            line = f"{gb_s:9.1f} GB/s"
        d.update(repeats=reps, buffers=nsets, **extra)
        print(json.dumps(d), flush=True)
        print(f"{kernel:14} {variant:12} {shape:26} {ms:9.4f} ms {line}", file=sys.stderr)

    def emit_error(self, kernel, variant, shape, err):
        self.errors += 1
        print(json.dumps({"kernel": kernel, "variant": variant, "shape": shape, "error": str(err)}), flush=True)
        print(f"{kernel:14} {variant:12} {shape:26} error: {err}", file=sys.stderr)

    def timed(self, kernel, variant, shape, run, nsets, flops=0.0, nbytes=0.0, **extra):
        copy = self.copy_gb_s(nbytes) if nbytes > 0 and flops <= 0 else None
        try:
            ms, reps = self.measure(run, nsets)
        except Exception as e:  # report, go on with the next kernel
            self.emit_error(kernel, variant, shape, e)
            return
        self.emit(kernel, variant, shape, ms, reps, nsets, flops, nbytes, copy, **extra)

    def copy_gb_s(self, total):
        """GB/s of a copy of total/2 bytes (reads and writes `total`), measured once per size."""
        if total in self.copies:
            return self.copies[total]
        half = int(total // 2)
        shape = f"bytes={half}"
        nsets = self.sets_for(total)
        gb_s = None
        try:
            src = [torch.randint(0, 255, (half,), dtype=torch.uint8, device="cuda") for _ in range(nsets)]
            dst = [torch.empty_like(x) for x in src]
            ms, reps = self.measure(lambda i: dst[i].copy_(src[i]), nsets)
            gb_s = total / (ms * 1e-3) / 1e9
            self.emit("copy", "torch", shape, ms, reps, nsets, nbytes=total, copy_gb_s=gb_s)
        except Exception as e:
            self.emit_error("copy", "torch", shape, e)
        self.copies[total] = gb_s
        return gb_s


def flash_context():
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
        return sdpa_kernel(SDPBackend.FLASH_ATTENTION)
    except ImportError:  # torch < 2.3
        return torch.backends.cuda.sdp_kernel(enable_flash=True, enable_math=False, enable_mem_efficient=False)


def bench_attention(b, T):
    B, H, D = 32, 12, 64
    shape = f"B={B},H={H},T={T},D={D}"
    fwd_flops = 4.0 * B * H * T * T * D
    bwd_flops = 2.5 * fwd_flops
    nsets = b.sets_for(4 * 2 * B * H * T * D)  # q, k, v, out bf16, as ours
    F = torch.nn.functional
    try:
        qkv = [[torch.empty(B, H, T, D, device="cuda", dtype=torch.bfloat16).uniform_(-1, 1).requires_grad_()
                for _ in range(3)] for _ in range(nsets)]
        dout = [torch.empty(B, H, T, D, device="cuda", dtype=torch.bfloat16).uniform_(-1, 1) for _ in range(nsets)]
    except Exception as e:
        b.emit_error("attention_fwd", "torch-flash", shape, e)
        b.emit_error("attention_bwd", "torch-flash", shape, e)
        return
    with flash_context():
        b.timed("attention_fwd", "torch-flash", shape, lambda i: F.scaled_dot_product_attention(*qkv[i]), nsets,
                flops=fwd_flops)
        try:
            outs = [F.scaled_dot_product_attention(*qkv[i]) for i in range(nsets)]
        except Exception as e:
            b.emit_error("attention_bwd", "torch-flash", shape, e)
            return
        b.timed("attention_bwd", "torch-flash", shape,
                lambda i: torch.autograd.grad(outs[i], qkv[i], dout[i], retain_graph=True), nsets, flops=bwd_flops)


def bench_adamw(b):
    n = 110_000_000
    shape = f"n={n}"
    try:
        p = torch.empty(n, device="cuda", dtype=torch.float32).uniform_(-0.1, 0.1).requires_grad_()
        p.grad = torch.empty_like(p).uniform_(-1e-3, 1e-3)
        opt = torch.optim.AdamW([p], lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, fused=True)
    except Exception as e:
        b.emit_error("adamw", "torch-fused", shape, e)
        return
    # param, grad, exp_avg, exp_avg_sq read (16 B); param, exp_avg, exp_avg_sq written (12 B).
    b.timed("adamw", "torch-fused", shape, lambda i: opt.step(), 1, nbytes=28.0 * n)


def bench_layernorm(b):
    N, C = 32 * 512, 768
    shape = f"N={N},C={C}"
    aten = torch.ops.aten
    x0 = torch.empty(N, C, device="cuda", dtype=torch.bfloat16).uniform_(-2, 2)
    # F32 gamma/beta with a bf16 input as ours where PyTorch's kernel takes it; bf16 otherwise.
    pdt = torch.float32
    try:
        aten.native_layer_norm(x0, [C], torch.ones(C, device="cuda", dtype=pdt),
                               torch.zeros(C, device="cuda", dtype=pdt), 1e-12)
    except Exception:
        pdt = torch.bfloat16
    ps = 4 if pdt == torch.float32 else 2
    fwd_bytes = 2.0 * N * C + 2 * ps * C + 2.0 * N * C + 8.0 * N
    bwd_bytes = 4.0 * N * C + ps * C + 8.0 * N + 2.0 * N * C + 2 * ps * C
    nsets = b.sets_for(fwd_bytes)
    sets = []
    for i in range(nsets):
        x = x0 if i == 0 else torch.empty_like(x0).uniform_(-2, 2)
        g = torch.empty(C, device="cuda", dtype=pdt).uniform_(0.5, 1.5)
        be = torch.empty(C, device="cuda", dtype=pdt).uniform_(-0.1, 0.1)
        y, mean, rstd = aten.native_layer_norm(x, [C], g, be, 1e-12)
        dy = torch.empty_like(x).uniform_(-1, 1)
        sets.append((x, g, be, mean, rstd, dy))
    extra = {"param_dtype": str(pdt).replace("torch.", "")}
    b.timed("layernorm_fwd", "torch", shape, lambda i: aten.native_layer_norm(sets[i][0], [C], sets[i][1], sets[i][2],
                                                                               1e-12), nsets, nbytes=fwd_bytes, **extra)
    b.timed("layernorm_bwd", "torch", shape,
            lambda i: aten.native_layer_norm_backward(sets[i][5], sets[i][0], [C], sets[i][3], sets[i][4], sets[i][1],
                                                      sets[i][2], [True, True, True]), nsets, nbytes=bwd_bytes, **extra)


def bench_gelu(b):
    N, C = 32 * 512, 3072
    shape = f"N={N},C={C}"
    n = N * C
    aten = torch.ops.aten
    x = torch.empty(N, C, device="cuda", dtype=torch.bfloat16).uniform_(-3, 3)
    dy = torch.empty_like(x).uniform_(-1, 1)
    b.timed("gelu_fwd", "torch", shape, lambda i: aten.gelu(x), 1, nbytes=4.0 * n)
    b.timed("gelu_bwd", "torch", shape, lambda i: aten.gelu_backward(dy, x), 1, nbytes=6.0 * n)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--only", default=None)
    args = ap.parse_args()
    if args.repeats < 5 or args.warmup < 1:
        ap.error("--repeats must be >= 5 and --warmup >= 1")
    if not torch.cuda.is_available():
        print(json.dumps({"error": "torch sees no CUDA device"}))
        return 1
    b = Bench(args)
    print(json.dumps({"device": b.name, "peak_bf16_tflops": b.peak_tflops, "peak_mem_gb_s": b.peak_gb_s,
                      "l2_bytes": b.l2, "warmup": b.warmup, "repeats": b.repeats, "torch": torch.__version__}),
          flush=True)
    print(f"{b.name}: torch {torch.__version__}, L2 {b.l2 / 1e6:.1f} MB", file=sys.stderr)
    cases = [("attention", lambda: bench_attention(b, 512)), ("attention", lambda: bench_attention(b, 128)),
             ("adamw", lambda: bench_adamw(b)), ("layernorm", lambda: bench_layernorm(b)),
             ("gelu", lambda: bench_gelu(b))]
    for kernel, run in cases:
        if not b.wanted(kernel):
            continue
        try:
            run()
        except Exception as e:  # a failure outside a timed call (setup): report it, go on
            b.emit_error(kernel, "torch", "setup", e)
        try:
            torch.cuda.synchronize()
            torch.cuda.empty_cache()
        except Exception as e:  # a sticky device error: every later case would fail the same way
            b.emit_error(kernel, "torch", "sync", e)
            break
    return 2 if b.errors else 0


if __name__ == "__main__":
    sys.exit(main())
