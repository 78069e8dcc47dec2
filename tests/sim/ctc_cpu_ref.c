// ctc_cpu_ref: runs the CPU CTC op (kernels/cpu/ctc_loss.c) on one problem read from stdin and
// writes its outputs to stdout, for scripts/ctc_kernel_sim.py, which checks its replay of the CUDA
// kernel against the CPU op itself (ctest ctc_kernel_sim finds this program next to the tests).
//
// stdin, little-endian: int64 N, T, C, S, blank, reduction (0 mean, 1 sum), zero_infinity,
// wrt (0 log-probs, 1 logits); float64 dloss; float64 log_probs (N*T*C); int32 targets (N*S),
// input_lengths (N), target_lengths (N).
// stdout: float64 alpha (N*T*(2S+1)), int32 alpha_exp (same), float64 losses (N), loss (1),
// grad (N*T*C). Unwritten alpha entries are 0 (the buffers start zeroed). Exit 1 on an op error
// (its message on stderr).
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"

static int rd(void *p, size_t size, size_t n) { return fread(p, size, n, stdin) == n; }
static int wr(const void *p, size_t size, size_t n) { return fwrite(p, size, n, stdout) == n; }

int main(void) {
    int64_t h[8];
    double dloss = 1.0;
    if (!rd(h, sizeof h[0], 8) || !rd(&dloss, sizeof dloss, 1)) return 2;
    const int64_t N = h[0], T = h[1], C = h[2], S = h[3], W = 2 * S + 1;
    const size_t nlp = (size_t)(N * T * C), na = (size_t)(N * T * W);
    double *lp = calloc(nlp + 1, 8), *alpha = calloc(na + 1, 8), *losses = calloc((size_t)N + 1, 8);
    double *grad = calloc(nlp + 1, 8), loss = 0;
    int32_t *tg = calloc((size_t)(N * S) + 1, 4), *il = calloc((size_t)N + 1, 4), *tl = calloc((size_t)N + 1, 4);
    int32_t *aexp = calloc(na + 1, 4);
    if (!lp || !alpha || !losses || !grad || !tg || !il || !tl || !aexp) return 2;
    if (!rd(lp, 8, nlp) || !rd(tg, 4, (size_t)(N * S)) || !rd(il, 4, (size_t)N) || !rd(tl, 4, (size_t)N)) return 2;
    ds_context ctx = ds_context_cpu();
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    const int64_t lps[3] = {N, T, C}, ts[2] = {N, S}, ns[1] = {N}, one[1] = {1}, as[3] = {N, T, W};
    ds_ctc_loss_fwd_args f = {.log_probs = ds_tensor_make(lp, DS_F64, cpu, 3, lps),
                              .targets = ds_tensor_make(tg, DS_I32, cpu, 2, ts),
                              .input_lengths = ds_tensor_make(il, DS_I32, cpu, 1, ns),
                              .target_lengths = ds_tensor_make(tl, DS_I32, cpu, 1, ns),
                              .losses = ds_tensor_make(losses, DS_F64, cpu, 1, ns),
                              .loss = ds_tensor_make(&loss, DS_F64, cpu, 1, one),
                              .alpha = ds_tensor_make(alpha, DS_F64, cpu, 3, as),
                              .alpha_exp = ds_tensor_make(aexp, DS_I32, cpu, 3, as), .blank = (int)h[4],
                              .reduction = h[5] ? DS_CTC_SUM : DS_CTC_MEAN, .zero_infinity = h[6] != 0};
    ds_ctc_loss_bwd_args b = {.log_probs = f.log_probs, .targets = f.targets, .input_lengths = f.input_lengths,
                              .target_lengths = f.target_lengths, .alpha = f.alpha, .alpha_exp = f.alpha_exp,
                              .grad = ds_tensor_make(grad, DS_F64, cpu, 3, lps), .dloss = dloss, .blank = (int)h[4],
                              .reduction = f.reduction, .zero_infinity = f.zero_infinity,
                              .wrt = h[7] ? DS_CTC_GRAD_LOGITS : DS_CTC_GRAD_LOG_PROBS};
    if (ds_ctc_loss_forward(&ctx, &f) != DS_OK || ds_ctc_loss_backward(&ctx, &b) != DS_OK) {
        fprintf(stderr, "ctc_cpu_ref: %s\n", ctx.err.msg);
        return 1;
    }
    if (!wr(alpha, 8, na) || !wr(aexp, 4, na) || !wr(losses, 8, (size_t)N) || !wr(&loss, 8, 1) || !wr(grad, 8, nlp))
        return 2;
    free(lp), free(alpha), free(losses), free(grad), free(tg), free(il), free(tl), free(aexp);
    return 0;
}
