// ds_ctc_cpu_bench: times the CPU CTC loss, forward + backward (DS_CTC_GRAD_LOGITS, which returns
// what torch's ctc_loss backward returns), on random log-probabilities, and prints one JSON line
// with the median and best milliseconds per iteration. scripts/bench/ctc_cpu_vs_torch.sh runs it
// next to torch.nn.functional.ctc_loss on the same shapes and threads (OMP_NUM_THREADS).
//
// usage: ds_ctc_cpu_bench [B T L V [iterations]]     (default 8 400 80 32 50)
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../kernels/ops.h"
#include "../runtime/base/philox.h"

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int64_t B = 8, T = 400, L = 80, V = 32, iters = 50;
    if (argc >= 5) B = atoll(argv[1]), T = atoll(argv[2]), L = atoll(argv[3]), V = atoll(argv[4]);
    if (argc >= 6) iters = atoll(argv[5]);
    if (B < 1 || T < 1 || L < 1 || V < 2 || iters < 1 || 2 * L + 1 > T) {
        fprintf(stderr, "usage: %s [B T L V [iterations]] with B, L >= 1, V >= 2, T >= 2L+1\n", argv[0]);
        return 2;
    }
    ds_context ctx = ds_context_cpu();
    float *logits = malloc(sizeof(float) * (size_t)(B * T * V)), *lp = malloc(sizeof(float) * (size_t)(B * T * V));
    float *grad = malloc(sizeof(float) * (size_t)(B * T * V)), *losses = malloc(sizeof(float) * (size_t)B), loss;
    double *alpha = malloc(sizeof(double) * (size_t)(B * T * (2 * L + 1))), *unused = NULL;
    int32_t *aexp = malloc(sizeof(int32_t) * (size_t)(B * T * (2 * L + 1)));
    int32_t *targets = malloc(sizeof(int32_t) * (size_t)(B * L)), *il = malloc(sizeof(int32_t) * (size_t)B),
            *tl = malloc(sizeof(int32_t) * (size_t)B);
    double *ms = malloc(sizeof(double) * (size_t)iters);
    if (!logits || !lp || !grad || !losses || !alpha || !aexp || !targets || !il || !tl || !ms) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    // Logits ~ N(0, 1)-ish (sum of uniforms), labels uniform over 1..V-1, blank 0, full lengths.
    for (int64_t i = 0; i < B * T * V; i++)
        logits[i] = 2.0f * (ds_philox_uniform(1, 0, 2 * (uint64_t)i) + ds_philox_uniform(1, 0, 2 * (uint64_t)i + 1) - 1.0f);
    for (int64_t i = 0; i < B * L; i++) targets[i] = 1 + (int32_t)(ds_philox_u32(1, 1, (uint64_t)i) % (uint32_t)(V - 1));
    for (int64_t b = 0; b < B; b++) il[b] = (int32_t)T, tl[b] = (int32_t)L;
    ds_softmax_fwd_args ls = {.x = ds_tensor_cpu2(logits, DS_F32, B * T, V), .y = ds_tensor_cpu2(lp, DS_F32, B * T, V)};
    ds_ctc_loss_fwd_args fa = {.log_probs = ds_tensor_cpu3(lp, DS_F32, B, T, V), .targets = ds_tensor_cpu2(targets, DS_I32, B, L),
                               .input_lengths = ds_tensor_cpu1(il, DS_I32, B), .target_lengths = ds_tensor_cpu1(tl, DS_I32, B),
                               .losses = ds_tensor_cpu1(losses, DS_F32, B), .loss = ds_tensor_cpu1(&loss, DS_F32, 1),
                               .alpha = ds_tensor_cpu3(alpha, DS_F64, B, T, 2 * L + 1),
                               .alpha_exp = ds_tensor_cpu3(aexp, DS_I32, B, T, 2 * L + 1), .blank = 0, .reduction = DS_CTC_SUM};
    ds_ctc_loss_bwd_args ba = {.log_probs = fa.log_probs, .targets = fa.targets, .input_lengths = fa.input_lengths,
                               .target_lengths = fa.target_lengths, .alpha = fa.alpha,
                               .alpha_exp = fa.alpha_exp, .grad = ds_tensor_cpu3(grad, DS_F32, B, T, V),
                               .dloss = 1, .blank = 0, .reduction = DS_CTC_SUM, .wrt = DS_CTC_GRAD_LOGITS};
    if (ds_log_softmax_forward(&ctx, &ls) != DS_OK) {
        fprintf(stderr, "%s\n", ctx.err.msg);
        return 1;
    }
    for (int64_t i = -3; i < iters; i++) {  // 3 warm-up iterations
        const double t0 = now_ms();
        if (ds_ctc_loss_forward(&ctx, &fa) != DS_OK || ds_ctc_loss_backward(&ctx, &ba) != DS_OK) {
            fprintf(stderr, "%s\n", ctx.err.msg);
            return 1;
        }
        if (i >= 0) ms[i] = now_ms() - t0;
    }
    qsort(ms, (size_t)iters, sizeof *ms, cmp_double);
    printf("{\"B\": %lld, \"T\": %lld, \"L\": %lld, \"V\": %lld, \"loss\": %.6f, \"ms_median\": %.4f, \"ms_best\": %.4f}\n",
           (long long)B, (long long)T, (long long)L, (long long)V, (double)loss, ms[iters / 2], ms[0]);
    free(logits), free(lp), free(grad), free(losses), free(alpha), free(aexp), free(unused), free(targets), free(il), free(tl), free(ms);
    return 0;
}
