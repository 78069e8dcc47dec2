#!/usr/bin/env python3
"""The PyTorch side of `downstream bench` on CUDA: the same fine-tuning step of Hugging Face's
BertForSequenceClassification at the same shape, built from a BertConfig (random init, nothing
downloaded): forward in train mode (dropout 0.1) on random token ids without padding (no
attention mask) and random labels, the loss, backward, clip_grad_norm_(1.0), AdamW (HF Trainer's
parameter groups: no weight decay on biases and LayerNorm weights; fused=True) and zero_grad.

Modes: eager (bf16 torch.autocast unless --precision fp32, which also turns TF32 off) and
compile (the same model through torch.compile). Prints one JSON object with the keys of
`downstream bench`: samples_per_s, tokens_per_s, step_ms_median, step_ms_p90, mfu,
peak_mem_bytes, device, first_step_s (from process start, compilation included),
data_wait_frac (0: the batch is made once and stays on the GPU).

FLOPs of a step (2 per multiply-add, matmuls only; as runtime/tasks/text/bench.h):
  forward = 2*B*T*L*(4*H*H + 2*H*I) + 4*L*B*T*T*H + 2*B*(H*H + H*C);  step = 3 * forward
mfu = step FLOPs / median step time / the data-sheet dense peak of the precision (bf16 tensor
cores, or fp32 without TF32), as downstream's table (kernels/cuda/gpu.cu).

usage: torch_bert_step.py [--mode eager|compile] [--precision bf16|fp32] [--batch 32 --seq-len 128]
                          [--vocab 30522 --hidden 768 --layers 12 --heads 12 --intermediate 3072]
                          [--num-labels 2 --warmup 5 --repeats 20 --seed 0]
"""
import argparse
import json
import os
import time


def process_age_seconds():
    """Seconds since this process started (Linux /proc), so first_step_s counts the imports."""
    try:
        with open("/proc/self/stat") as f:
            stat = f.read()
        start_ticks = int(stat[stat.rindex(")") + 2:].split()[19])  # field 22: starttime
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return 0.0


PROCESS_START = time.perf_counter() - process_age_seconds()

import torch  # noqa: E402  (after the clock: the import is part of the time to the first step)
from transformers import BertConfig, BertForSequenceClassification  # noqa: E402

# Dense data-sheet peaks in TFLOP/s (bf16 tensor cores, fp32 CUDA cores): the table of
# kernels/cuda/gpu.cu, so both sides divide by the same number.
PEAKS = {"H200": (989.0, 67.0), "H100": (989.0, 67.0), "A100": (312.0, 19.5)}


def step_flops(B, T, L, H, I, C):
    forward = 2 * B * T * L * (4 * H * H + 2 * H * I) + 4 * L * B * T * T * H + 2 * B * (H * H + H * C)
    return 3 * forward


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", choices=["eager", "compile"], default="eager")
    p.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    for k, v in dict(batch=32, seq_len=128, vocab=30522, hidden=768, layers=12, heads=12, intermediate=3072,
                     num_labels=2, warmup=5, repeats=20, seed=0).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    a = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch_bert_step.py: no CUDA device visible to torch")
    dev = torch.device("cuda")
    torch.manual_seed(a.seed)
    bf16 = a.precision == "bf16"
    if not bf16:  # exact fp32, as downstream's fp32 mode (TF32 off)
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    cfg = BertConfig(vocab_size=a.vocab, hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.heads, intermediate_size=a.intermediate,
                     max_position_embeddings=max(512, a.seq_len), hidden_dropout_prob=0.1,
                     attention_probs_dropout_prob=0.1, num_labels=a.num_labels)
    cfg._attn_implementation = "sdpa"  # torch's fused attention (as the CPU script; any transformers version)
    model = BertForSequenceClassification(cfg).to(dev).train()
    no_decay = [q for n, q in model.named_parameters() if n.endswith(".bias") or "LayerNorm.weight" in n]
    decay = [q for n, q in model.named_parameters() if not (n.endswith(".bias") or "LayerNorm.weight" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=2e-5, fused=True)
    params = [q for q in model.parameters()]
    run = torch.compile(model) if a.mode == "compile" else model
    B, T = a.batch, a.seq_len
    ids = torch.randint(1, a.vocab, (B, T), device=dev)
    labels = torch.randint(0, a.num_labels, (B,), device=dev)

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = run(input_ids=ids, labels=labels).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    times, first_step_s, loss = [], 0.0, None
    torch.cuda.reset_peak_memory_stats(dev)
    for i in range(a.warmup + a.repeats):
        torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        loss = step()
        torch.cuda.synchronize(dev)
        t1 = time.perf_counter()
        if i == 0:
            first_step_s = t1 - PROCESS_START
        if i >= a.warmup:
            times.append(t1 - t0)
    times.sort()
    med = times[len(times) // 2]
    p90 = times[max(0, -(-9 * len(times) // 10) - 1)]
    flops = step_flops(B, T, a.layers, a.hidden, a.intermediate, a.num_labels)
    name = torch.cuda.get_device_name(dev)
    peak = next((v[0 if bf16 else 1] for k, v in PEAKS.items() if k in name), 0.0) * 1e12
    cc = torch.cuda.get_device_capability(dev)
    print(json.dumps({
        "device": f"cuda:{dev.index or 0} {name}", "framework": f"torch {torch.__version__} {a.mode}",
        "mode": a.mode, "precision": a.precision, "model": "bert-classifier", "vocab": a.vocab, "layers": a.layers,
        "hidden": a.hidden, "heads": a.heads, "intermediate": a.intermediate, "batch": B, "seq_len": T,
        "params": sum(q.numel() for q in params), "samples_per_s": B / med, "tokens_per_s": B * T / med,
        "step_ms_median": 1e3 * med, "step_ms_p90": 1e3 * p90, "model_gflop_per_step": flops / 1e9,
        "achieved_tflops": flops / med / 1e12, "mfu": flops / med / peak if peak > 0 else None,
        "mfu_basis": f"{a.precision} dense peak {peak / 1e12:.0f} TFLOP/s", "sm": f"sm_{cc[0]}{cc[1]}",
        "peak_mem_bytes": torch.cuda.max_memory_allocated(dev), "first_step_s": first_step_s,
        "data_wait_frac": 0, "last_loss": float(loss.item())}))


if __name__ == "__main__":
    main()
