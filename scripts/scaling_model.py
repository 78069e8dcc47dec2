#!/usr/bin/env python3
"""Predicts data-parallel step time and scaling efficiency of fine-tuning on 8 and 64 GPUs.

A model, not a measurement: every input is an argument, and the defaults are stated assumptions
(BERT-base on H100s; see docs/scaling.md for the formulas and where each number comes from). It
is to be checked against a real multi-GPU run as soon as one is possible.

    python3 scripts/scaling_model.py                       # BERT-base defaults, fp32 and bf16 grads
    python3 scripts/scaling_model.py --step-ms 41.5 --grad-dtype bf16 --gpus 8,16,64

Weak scaling: every GPU keeps its batch, so the single-GPU step time is the compute part of every
step and efficiency = t(1 GPU) / t(n GPUs). Plain Python 3, no third-party packages.
"""

import argparse
import math
import sys

BYTES_PER_GRAD = {"fp32": 4, "bf16": 2}

# BERT-base (uncased): 12 layers, hidden 768, vocabulary 30522, 512 positions.
BERT_BASE_PARAMS = 110e6
# Word (30522 x 768) + position (512 x 768) + token-type (2 x 768) embeddings + their LayerNorm:
# the last gradients of backward (the input end of the network).
BERT_BASE_EMBEDDING_PARAMS = 30522 * 768 + 512 * 768 + 2 * 768 + 2 * 768


def ring_allreduce_s(nbytes, n, busbw_gbs, latency_us):
    """Time of one NCCL ring all-reduce of nbytes on n ranks.

    nccl-tests define bus bandwidth so that it is comparable across n: busbw = algbw * 2(n-1)/n
    with algbw = bytes / time; hence time = 2(n-1)/n * bytes / busbw, plus a fixed per-call
    latency (launch, synchronisation, the first chunk's trip around the ring).
    """
    if n <= 1:
        return 0.0
    return latency_us * 1e-6 + 2.0 * (n - 1) / n * nbytes / (busbw_gbs * 1e9)


def buckets(grad_bytes, bucket_bytes, tail_bytes, backward_s):
    """The gradient buckets in all-reduce order, as (bytes, ready time after backward starts).

    Backward produces gradients from the output end of the network to the input end. The body
    (grad_bytes - tail_bytes) is produced at a uniform rate over the backward pass (transformer
    layers all cost the same); the tail (the embeddings) is ready only when backward ends. A
    bucket is ready when its last byte is; buckets are filled in that order and the last one may
    be partly full.
    """
    body = grad_bytes - tail_bytes
    out = []
    done = 0.0
    while done < grad_bytes - 1e-9:
        size = min(bucket_bytes, grad_bytes - done)
        end = done + size
        if end <= body + 1e-9 and body > 0:
            ready = backward_s * end / body
        else:
            ready = backward_s  # the bucket holds tail bytes: ready at the end of backward
        out.append((size, ready))
        done = end
    return out


def simulate(n, a):
    """Optimizer-step time on n GPUs: compute as on one GPU, plus the all-reduce time overlap cannot hide.

    All-reduces run one at a time on one communication stream (as NCCL in DDP-style training):
    bucket i starts when it is ready and the previous one has finished. Whatever of the last
    all-reduce runs past the end of backward delays the optimizer step: that is the exposed time.
    """
    step = a.step_ms * 1e-3
    backward = a.bwd_fraction * step
    grad_bytes = a.params * BYTES_PER_GRAD[a.grad_dtype]
    tail_bytes = min(a.tail_params, a.params) * BYTES_PER_GRAD[a.grad_dtype]
    inter = n > a.gpus_per_node
    busbw = a.inter_busbw if inter else a.intra_busbw
    latency = a.inter_latency_us if inter else a.intra_latency_us
    bks = buckets(grad_bytes, a.bucket_mb * 1e6, tail_bytes, backward)
    free_at = 0.0  # when the communication stream is next idle (s after backward starts)
    total_comm = 0.0
    first_bucket = 0.0
    for i, (size, ready) in enumerate(bks):
        t = ring_allreduce_s(size, n, busbw, latency)
        if i == 0:
            first_bucket = t
        total_comm += t
        free_at = max(free_at, ready) + t
    exposed = max(0.0, free_at - backward) if n > 1 else 0.0
    # With accumulation, gradients are all-reduced once, during the last micro-batch's backward.
    compute = a.grad_accum * step
    t_n = compute + exposed
    return {
        "gpus": n,
        "nodes": max(1, math.ceil(n / a.gpus_per_node)),
        "busbw": busbw if n > 1 else 0.0,
        "buckets": len(bks),
        "bucket_ms": first_bucket * 1e3,
        "comm_ms": total_comm * 1e3,
        "exposed_ms": exposed * 1e3,
        "step_ms": t_n * 1e3,
        "no_overlap_ms": (compute + total_comm) * 1e3,
        "efficiency": compute / t_n,
        "samples_per_s": n * a.batch_per_gpu * a.grad_accum / t_n,
    }


def table(a):
    grad_bytes = a.params * BYTES_PER_GRAD[a.grad_dtype]
    lines = [
        f"gradients: {a.params / 1e6:.1f}M params x {BYTES_PER_GRAD[a.grad_dtype]} B ({a.grad_dtype}) = "
        f"{grad_bytes / 1e6:.0f} MB in {a.bucket_mb:g} MB buckets; last {min(a.tail_params, a.params) / 1e6:.1f}M params "
        f"ready at the end of backward",
        f"1-GPU step {a.step_ms:g} ms (backward {a.bwd_fraction * a.step_ms:.1f} ms), {a.batch_per_gpu} samples per GPU"
        f"{f' x {a.grad_accum} accumulated' if a.grad_accum > 1 else ''}; "
        f"busbw {a.intra_busbw:g} GB/s within a node of {a.gpus_per_node}, {a.inter_busbw:g} GB/s across nodes; "
        f"latency {a.intra_latency_us:g} / {a.inter_latency_us:g} us per all-reduce",
        "",
        f"{'GPUs':>5} {'nodes':>5} {'busbw':>7} {'bkts':>4} {'ms/bkt':>7} {'comm ms':>8} {'exposed':>8} "
        f"{'step ms':>8} {'no-ovl ms':>9} {'eff':>6} {'samples/s':>10}",
    ]
    for n in a.gpus:
        r = simulate(n, a)
        lines.append(
            f"{r['gpus']:>5} {r['nodes']:>5} {r['busbw']:>7.0f} {r['buckets']:>4} {r['bucket_ms']:>7.3f} "
            f"{r['comm_ms']:>8.2f} {r['exposed_ms']:>8.2f} {r['step_ms']:>8.2f} {r['no_overlap_ms']:>9.2f} "
            f"{100 * r['efficiency']:>5.1f}% {r['samples_per_s']:>10.0f}"
        )
    return "\n".join(lines)


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--step-ms", type=float, default=25.0,
                   help="measured single-GPU step time (forward, backward, optimizer); default: assumed "
                        "BERT-base, 32 x 128 tokens per GPU, bf16 on one H100 (docs/scaling.md)")
    p.add_argument("--params", type=float, default=BERT_BASE_PARAMS, help="parameters (BERT-base: 110M)")
    p.add_argument("--grad-dtype", choices=["fp32", "bf16", "both"], default="both",
                   help="gradient element type all-reduced (fp32: 4 B, bf16: 2 B)")
    p.add_argument("--bucket-mb", type=float, default=25.0, help="all-reduce bucket size, MB (1e6 B)")
    p.add_argument("--tail-params", type=float, default=BERT_BASE_EMBEDDING_PARAMS,
                   help="parameters whose gradients are ready only at the end of backward (BERT: the "
                        "embeddings); 0: all gradients are produced uniformly")
    p.add_argument("--bwd-fraction", type=float, default=0.6,
                   help="share of the step spent in backward (the time communication can hide under)")
    p.add_argument("--batch-per-gpu", type=int, default=32, help="samples per GPU per micro-batch (for samples/s)")
    p.add_argument("--grad-accum", type=int, default=1,
                   help="micro-batches per optimizer step; the all-reduce runs once, in the last one's backward")
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--intra-busbw", type=float, default=370.0,
                   help="all-reduce bus bandwidth within a node, GB/s (8 x H100 SXM, NVLink 4 + NVSwitch)")
    p.add_argument("--inter-busbw", type=float, default=45.0,
                   help="all-reduce bus bandwidth across nodes, GB/s (8 x 400 Gb/s InfiniBand per node)")
    p.add_argument("--intra-latency-us", type=float, default=15.0, help="fixed cost per all-reduce in a node")
    p.add_argument("--inter-latency-us", type=float, default=40.0, help="fixed cost per all-reduce across nodes")
    p.add_argument("--gpus", default="1,8,64", help="comma-separated GPU counts to predict")
    a = p.parse_args(argv)
    try:
        a.gpus = [int(x) for x in a.gpus.split(",") if x.strip()]
    except ValueError:
        p.error(f"--gpus: not a list of integers: {a.gpus!r}")
    if not a.gpus or min(a.gpus) < 1:
        p.error("--gpus: give positive GPU counts")
    for name in ("step_ms", "params", "bucket_mb", "intra_busbw", "inter_busbw"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be > 0")
    if not 0 < a.bwd_fraction <= 1:
        p.error("--bwd-fraction must be in (0, 1]")
    if a.tail_params < 0 or a.gpus_per_node < 1 or a.batch_per_gpu < 1 or a.grad_accum < 1:
        p.error("--tail-params must be >= 0; --gpus-per-node, --batch-per-gpu and --grad-accum >= 1")
    return a


def main(argv):
    a = parse(argv)
    dtypes = ["fp32", "bf16"] if a.grad_dtype == "both" else [a.grad_dtype]
    out = []
    for d in dtypes:
        a.grad_dtype = d
        out.append(table(a))
    print("\n\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
