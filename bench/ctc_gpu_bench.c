// ds_ctc_gpu_bench: times the CUDA CTC loss (kernels/cuda/ctc.cu), forward + backward
// (DS_CTC_GRAD_LOGITS, what torch's ctc_loss backward returns), on random log-probabilities with
// CUDA events on the context's stream, and prints one JSON line: {"kernel": "ctc", "B", "T", "L",
// "V", "loss", "ms_median", "ms_best", "fwd_ms_median"}; {"error": ...} without a GPU.
// scripts/gpu_check.sh runs it at B=32, T=500, L=100, V=32 next to scripts/bench/torch_ctc_gpu.py
// (torch.nn.functional.ctc_loss on the GPU, same shape). The inputs are uploaded once; the
// labels' device validation (one stream synchronisation per call) is part of the time unless
// --trusted (opt.trusted_indices, what a model that validated its labels on the host sets).
// --cudnn times cuDNN's CTC through the same op (run.ctc = cudnn; "cudnn": true in the JSON).
//
// usage: ds_ctc_gpu_bench [B T L V [iterations]] [--trusted] [--cudnn]   (default 32 500 100 32 50)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/gpu.h"
#include "../kernels/ops.h"
#include "../runtime/base/philox.h"
#include "bench_device.h"

static int cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void fail_json(const char *what, const char *msg) {
    printf("{\"kernel\": \"ctc\", \"error\": \"%s: ", what);
    for (const char *p = msg; *p; p++) putchar(*p == '"' || *p == '\\' ? '\'' : *p);
    printf("\"}\n");
}

int main(int argc, char **argv) {
    int64_t B = 32, T = 500, L = 100, V = 32, iters = 50;
    bool trusted = false, cudnn = false;
    int pos = 0;
    int64_t *num[5] = {&B, &T, &L, &V, &iters};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--trusted") == 0) trusted = true;
        else if (strcmp(argv[i], "--cudnn") == 0) cudnn = true;
        else if (pos < 5) *num[pos++] = atoll(argv[i]);
    }
    if (B < 1 || T < 1 || L < 1 || V < 2 || iters < 1 || 2 * L + 1 > T) {
        fprintf(stderr, "usage: %s [B T L V [iterations]] [--trusted] [--cudnn] with B, L >= 1, V >= 2, T >= 2L+1\n", argv[0]);
        return 2;
    }
    ds_context ctx = ds_context_cpu();
    ds_gpu_options opt = ds_gpu_options_default();
    opt.trusted_indices = trusted;
    opt.ctc = cudnn ? DS_CTC_CUDNN : DS_CTC_OWN;
    if (ds_gpu_open(&ctx, &opt) != DS_OK) {
        fail_json("no GPU", ctx.err.msg);
        return 0;
    }
    const size_t nlp = (size_t)(B * T * V), na = (size_t)(B * T * (2 * L + 1));
    float *lp = malloc(sizeof(float) * nlp);
    int32_t *targets = malloc(sizeof(int32_t) * (size_t)(B * L)), *il = malloc(sizeof(int32_t) * (size_t)B),
            *tl = malloc(sizeof(int32_t) * (size_t)B);
    float *ms = malloc(sizeof(float) * (size_t)iters), *fms = malloc(sizeof(float) * (size_t)iters);
    if (!lp || !targets || !il || !tl || !ms || !fms) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    // log_softmax of logits ~ sum of two uniforms, labels uniform over 1..V-1, blank 0, full lengths.
    for (int64_t r = 0; r < B * T; r++) {
        double mx = -INFINITY, s = 0;
        float *x = lp + r * V;
        for (int64_t c = 0; c < V; c++) {
            const uint64_t i = (uint64_t)(r * V + c);
            x[c] = 2.0f * (ds_philox_uniform(1, 0, 2 * i) + ds_philox_uniform(1, 0, 2 * i + 1) - 1.0f);
            mx = fmax(mx, x[c]);
        }
        for (int64_t c = 0; c < V; c++) s += exp(x[c] - mx);
        for (int64_t c = 0; c < V; c++) x[c] = (float)(x[c] - (mx + log(s)));
    }
    for (int64_t i = 0; i < B * L; i++) targets[i] = 1 + (int32_t)(ds_philox_u32(1, 1, (uint64_t)i) % (uint32_t)(V - 1));
    for (int64_t b = 0; b < B; b++) il[b] = (int32_t)T, tl[b] = (int32_t)L;
    void *d[9] = {0};
    const size_t bytes[9] = {4 * nlp, 4 * (size_t)(B * L), 4 * (size_t)B, 4 * (size_t)B, 4 * (size_t)B, 4, 8 * na, 4 * na,
                             4 * nlp};
    for (int k = 0; k < 9; k++)
        if (ds_gpu_alloc(&ctx, bytes[k], &d[k]) != DS_OK) {
            fail_json("alloc", ctx.err.msg);
            return 0;
        }
    ds_gpu_upload(&ctx, d[0], lp, bytes[0]);
    ds_gpu_upload(&ctx, d[1], targets, bytes[1]);
    ds_gpu_upload(&ctx, d[2], il, bytes[2]);
    ds_gpu_upload(&ctx, d[3], tl, bytes[3]);
    const ds_device dev = {DS_DEVICE_CUDA, opt.device_index};
    const int64_t lps[3] = {B, T, V}, ts[2] = {B, L}, ns[1] = {B}, one[1] = {1}, as[3] = {B, T, 2 * L + 1};
    ds_ctc_loss_fwd_args f = {.log_probs = ds_tensor_make(d[0], DS_F32, dev, 3, lps),
                              .targets = ds_tensor_make(d[1], DS_I32, dev, 2, ts),
                              .input_lengths = ds_tensor_make(d[2], DS_I32, dev, 1, ns),
                              .target_lengths = ds_tensor_make(d[3], DS_I32, dev, 1, ns),
                              .losses = ds_tensor_make(d[4], DS_F32, dev, 1, ns), .loss = ds_tensor_make(d[5], DS_F32, dev, 1, one),
                              .alpha = ds_tensor_make(d[6], DS_F64, dev, 3, as),
                              .alpha_exp = ds_tensor_make(d[7], DS_I32, dev, 3, as), .blank = 0, .reduction = DS_CTC_SUM};
    ds_ctc_loss_bwd_args b = {.log_probs = f.log_probs, .targets = f.targets, .input_lengths = f.input_lengths,
                              .target_lengths = f.target_lengths, .alpha = f.alpha, .alpha_exp = f.alpha_exp,
                              .grad = ds_tensor_make(d[8], DS_F32, dev, 3, lps), .dloss = 1.0, .blank = 0,
                              .reduction = DS_CTC_SUM, .wrt = DS_CTC_GRAD_LOGITS};
    ds_bench_timer *tm = NULL, *tf = NULL;
    if (ds_bench_timer_create(&ctx, (int)iters, &tm) != DS_OK || ds_bench_timer_create(&ctx, (int)iters, &tf) != DS_OK) {
        fail_json("timer", ctx.err.msg);
        return 0;
    }
    ds_status st = DS_OK;
    for (int i = 0; i < 3 && st == DS_OK; i++) {  // warm-up
        st = ds_ctc_loss_forward(&ctx, &f);
        if (st == DS_OK) st = ds_ctc_loss_backward(&ctx, &b);
    }
    for (int i = 0; i < iters && st == DS_OK; i++) {
        st = ds_bench_timer_start(&ctx, tm, i);
        if (st == DS_OK) st = ds_bench_timer_start(&ctx, tf, i);
        if (st == DS_OK) st = ds_ctc_loss_forward(&ctx, &f);
        if (st == DS_OK) st = ds_bench_timer_stop(&ctx, tf, i);
        if (st == DS_OK) st = ds_ctc_loss_backward(&ctx, &b);
        if (st == DS_OK) st = ds_bench_timer_stop(&ctx, tm, i);
    }
    float loss = NAN;
    if (st == DS_OK) st = ds_bench_timer_read(&ctx, tm, (int)iters, ms);
    if (st == DS_OK) st = ds_bench_timer_read(&ctx, tf, (int)iters, fms);
    if (st == DS_OK) st = ds_gpu_download(&ctx, &loss, d[5], 4);
    if (st == DS_OK) st = ds_gpu_sync(&ctx);
    if (st != DS_OK) {
        fail_json("ctc", ctx.err.msg);
        return 0;
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_float);
    qsort(fms, (size_t)iters, sizeof *fms, cmp_float);
    // cuDNN takes L <= 255 only; beyond, the own kernels ran and the row says so.
    const bool ran_cudnn = ds_gpu_ctc_cudnn_calls(&ctx) > 0;
    printf("{\"kernel\": \"ctc\", \"B\": %lld, \"T\": %lld, \"L\": %lld, \"V\": %lld, \"trusted\": %s, "
           "\"cudnn\": %s, \"loss\": %.6g, \"ms_median\": %.4f, \"ms_best\": %.4f, \"fwd_ms_median\": %.4f}\n",
           (long long)B, (long long)T, (long long)L, (long long)V, trusted ? "true" : "false",
           ran_cudnn ? "true" : "false", loss, ms[iters / 2], ms[0], fms[iters / 2]);
    ds_bench_timer_destroy(tm), ds_bench_timer_destroy(tf);
    for (int k = 0; k < 9; k++) ds_gpu_free(&ctx, d[k], bytes[k]);
    ds_gpu_close(&ctx);
    free(lp), free(targets), free(il), free(tl), free(ms), free(fms);
    return 0;
}
