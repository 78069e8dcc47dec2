// CUDA cross-entropy forward/backward (PLAIN and FAST kernels) against the CPU op on the same
// inputs: odd shapes (up to BERT's 30522 classes; FAST's warp path and its block path above 1024
// classes, each with and without 16-byte access), F32 and BF16 logits, rows with ignore_index,
// the all-ignored case (loss NaN as torch, zero gradient), dloss scaling, poisoned outputs,
// bit-identical repeat runs, and invalid targets reported as errors. Skipped (exit 77) without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

#define IGNORE (-100)
// lse and loss: fp32 math on identical inputs (BF16 logits are pre-rounded, and lse and loss are
// F32 either way). They differ from the CPU's in the order of the row sum (a tree vs a double
// sum), the one-pass rescaling of FAST and expf/logf's last ulp: lse ~ 10 off by ~1e-6 at most,
// ~1e-7 relative; the loss is a double mean of those. 1e-5 is a 10x+ margin; a wrong row, target
// or count is off by far more.
#define TOL_STAT 1e-5
// dlogits F32: scale * exp(x - lse) in fp32 with lse a few ulp apart: ~1e-6 relative; 1e-5.
#define TOL_GRAD_F32 1e-5
// dlogits BF16: the one rounding to bf16 on store (2^-9 relative) dominates; 1e-2.
#define TOL_GRAD_BF16 1e-2

static const int64_t k_shapes[][2] = {{1, 2},     {7, 13},   {13, 2},  {7, 1000},
                                      {13, 1024}, {5, 1025}, {3, 2048}, {13, 30522}};

// targets (n) host I32 in [0, c); rows i % 4 == 1 are ignored; every row when all_ignored.
static ds_tensor make_targets(int64_t n, int64_t c, bool all_ignored, uint64_t seed) {
    int32_t *tg = calloc((size_t)n, sizeof(int32_t));
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        tg[i] = all_ignored || i % 4 == 1 ? IGNORE : (int32_t)((s >> 33) % (uint64_t)c);
    }
    return ds_tensor_make(tg, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 1, &n);
}

static void run_case(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, ds_dtype dt, int64_t n,
                     int64_t c, bool all_ignored, uint64_t seed) {
    char what[192], tag[128];
    snprintf(tag, sizeof tag, "%s %s (%lld, %lld)%s", variant, dt == DS_F32 ? "F32" : "BF16", (long long)n,
             (long long)c, all_ignored ? " all ignored" : "");
    const int64_t shape[2] = {n, c}, one = 1;
    ds_tensor logits = ds_gpu_test_random_rounded(2, shape, seed, -6.0f, 6.0f, dt == DS_BF16);
    ds_tensor targets = make_targets(n, c, all_ignored, seed + 1);
    ds_tensor loss_want = ds_gpu_test_host_zeros(1, &one), lse_want = ds_gpu_test_host_zeros(1, &n),
              dl_want = ds_gpu_test_host_zeros(2, shape);
    ds_cross_entropy_fwd_args cf = {.logits = logits, .targets = targets, .loss = loss_want, .lse = lse_want,
                                    .ignore_index = IGNORE};
    ds_test_check(t, ds_cross_entropy_forward(cpu, &cf) == DS_OK, "cpu forward: %s", cpu->err.msg);
    const double dloss = 0.75;
    ds_cross_entropy_bwd_args cb = {.logits = logits, .targets = targets, .lse = lse_want, .dlogits = dl_want,
                                    .dloss = dloss, .ignore_index = IGNORE};
    ds_test_check(t, ds_cross_entropy_backward(cpu, &cb) == DS_OK, "cpu backward: %s", cpu->err.msg);

    ds_tensor ld = ds_gpu_test_upload(gpu, &logits, dt), td = ds_gpu_test_upload(gpu, &targets, DS_I32);
    ds_tensor lossd[2] = {ds_gpu_test_poisoned(gpu, &loss_want, DS_F32), ds_gpu_test_poisoned(gpu, &loss_want, DS_F32)};
    ds_tensor lsed[2] = {ds_gpu_test_poisoned(gpu, &lse_want, DS_F32), ds_gpu_test_poisoned(gpu, &lse_want, DS_F32)};
    ds_tensor dld[2] = {ds_gpu_test_poisoned(gpu, &logits, dt), ds_gpu_test_poisoned(gpu, &logits, dt)};
    ds_tensor loss_got[2], lse_got[2], dl_got[2];
    bool ok = true;
    for (int r = 0; r < 2; r++) {  // two runs: the second must repeat the first bit for bit
        ds_cross_entropy_fwd_args gf = {.logits = ld, .targets = td, .loss = lossd[r], .lse = lsed[r],
                                        .ignore_index = IGNORE};
        ok &= ds_test_check(t, ds_cross_entropy_forward(gpu, &gf) == DS_OK, "%s forward: %s", tag, gpu->err.msg);
        ds_cross_entropy_bwd_args gb = {.logits = ld, .targets = td, .lse = lsed[r], .dlogits = dld[r],
                                        .dloss = dloss, .ignore_index = IGNORE};
        ok &= ds_test_check(t, ds_cross_entropy_backward(gpu, &gb) == DS_OK, "%s backward: %s", tag, gpu->err.msg);
        loss_got[r] = ds_gpu_test_download(gpu, &lossd[r]);
        lse_got[r] = ds_gpu_test_download(gpu, &lsed[r]);
        dl_got[r] = ds_gpu_test_download(gpu, &dld[r]);
    }
    if (ok) {
        const float lg = *(const float *)loss_got[0].data, lw = *(const float *)loss_want.data;
        if (all_ignored) {
            ds_test_check(t, isnan(lw) && isnan(lg), "%s: loss is %g (CPU %g), NaN expected", tag, (double)lg,
                          (double)lw);
        } else {
            snprintf(what, sizeof what, "%s loss", tag);
            ds_test_close(t, what, &loss_got[0], &loss_want, TOL_STAT);
        }
        snprintf(what, sizeof what, "%s lse", tag);
        ds_test_close(t, what, &lse_got[0], &lse_want, TOL_STAT);
        snprintf(what, sizeof what, "%s dlogits", tag);
        ds_test_close(t, what, &dl_got[0], &dl_want, dt == DS_F32 ? TOL_GRAD_F32 : TOL_GRAD_BF16);
        // Ignored rows are exactly zero (a tensor-relative comparison could hide a small value).
        const int32_t *tg = targets.data;
        bool zero = true;
        for (int64_t i = 0; i < n; i++)
            if (tg[i] == IGNORE)
                for (int64_t j = 0; j < c; j++) zero &= ((const float *)dl_got[0].data)[i * c + j] == 0.0f;
        ds_test_check(t, zero, "%s: an ignored row has a non-zero gradient", tag);
        ds_test_check(t,
                      ds_gpu_test_same_bits(&loss_got[0], &loss_got[1]) &&
                          ds_gpu_test_same_bits(&lse_got[0], &lse_got[1]) &&
                          ds_gpu_test_same_bits(&dl_got[0], &dl_got[1]),
                      "%s: two runs differ", tag);
    }
    for (int r = 0; r < 2; r++) {
        ds_gpu_test_free(gpu, &lossd[r]), ds_gpu_test_free(gpu, &lsed[r]), ds_gpu_test_free(gpu, &dld[r]);
        free(loss_got[r].data), free(lse_got[r].data), free(dl_got[r].data);
    }
    ds_gpu_test_free(gpu, &ld), ds_gpu_test_free(gpu, &td);
    free(logits.data), free(targets.data), free(loss_want.data), free(lse_want.data), free(dl_want.data);
}

// A target that is neither a class nor ignore_index is an error naming it, forward and backward,
// and the outputs keep their contents.
static void check_errors(ds_test *t, ds_context *gpu) {
    const int64_t n = 7, c = 13, shape[2] = {n, c}, one = 1;
    const int32_t bad[2] = {13, -5};
    for (int b = 0; b < 2; b++) {
        ds_tensor logits = ds_gpu_test_random(2, shape, 4, -1.0f, 1.0f), targets = make_targets(n, c, false, 9);
        ((int32_t *)targets.data)[3] = bad[b];
        ds_tensor ld = ds_gpu_test_upload(gpu, &logits, DS_F32), td = ds_gpu_test_upload(gpu, &targets, DS_I32);
        ds_tensor lossh = ds_gpu_test_host_zeros(1, &one), lseh = ds_gpu_test_host_zeros(1, &n);
        ds_tensor lossd = ds_gpu_test_poisoned(gpu, &lossh, DS_F32), lsed = ds_gpu_test_poisoned(gpu, &lseh, DS_F32);
        ds_tensor dld = ds_gpu_test_poisoned(gpu, &logits, DS_F32);
        char expect[80];
        snprintf(expect, sizeof expect, "targets[3] = %d is neither a class in [0, 13)", (int)bad[b]);
        ds_err_clear(&gpu->err);
        ds_cross_entropy_fwd_args gf = {.logits = ld, .targets = td, .loss = lossd, .lse = lsed,
                                        .ignore_index = IGNORE};
        ds_test_check(t, ds_cross_entropy_forward(gpu, &gf) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, expect),
                      "forward with target %d: expected '%s', got '%s'", (int)bad[b], expect, gpu->err.msg);
        ds_err_clear(&gpu->err);
        ds_cross_entropy_bwd_args gb = {.logits = ld, .targets = td, .lse = lsed, .dlogits = dld, .dloss = 1,
                                        .ignore_index = IGNORE};
        ds_test_check(t, ds_cross_entropy_backward(gpu, &gb) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, expect),
                      "backward with target %d: expected '%s', got '%s'", (int)bad[b], expect, gpu->err.msg);
        ds_err_clear(&gpu->err);
        ds_tensor lse = ds_gpu_test_download(gpu, &lsed), dl = ds_gpu_test_download(gpu, &dld);
        bool untouched = true;
        for (int64_t i = 0; i < n; i++) untouched &= isnan(((const float *)lse.data)[i]) != 0;
        for (int64_t i = 0; i < n * c; i++) untouched &= isnan(((const float *)dl.data)[i]) != 0;
        ds_test_check(t, untouched, "target %d: an output was written despite the error", (int)bad[b]);
        ds_gpu_test_free(gpu, &ld), ds_gpu_test_free(gpu, &td), ds_gpu_test_free(gpu, &lossd);
        ds_gpu_test_free(gpu, &lsed), ds_gpu_test_free(gpu, &dld);
        free(logits.data), free(targets.data), free(lossh.data), free(lseh.data), free(lse.data), free(dl.data);
    }
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    if (!ds_gpu_test_open(&gpu, "cuda_cross_entropy")) return DS_TEST_SKIP;
    ds_context cpu = ds_context_cpu();
    ds_test t = ds_test_begin("cuda_cross_entropy");
    const ds_kernel_variant variants[2] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    for (int v = 0; v < 2; v++) {
        ds_gpu_set_kernels(&gpu, variants[v]);
        const char *vn = v == 0 ? "PLAIN" : "FAST";
        for (size_t k = 0; k < sizeof k_shapes / sizeof k_shapes[0]; k++) {
            run_case(&t, &gpu, &cpu, vn, DS_F32, k_shapes[k][0], k_shapes[k][1], false, 300 + k);
            run_case(&t, &gpu, &cpu, vn, DS_BF16, k_shapes[k][0], k_shapes[k][1], false, 400 + k);
        }
        run_case(&t, &gpu, &cpu, vn, DS_F32, 7, 13, true, 500);
        run_case(&t, &gpu, &cpu, vn, DS_BF16, 13, 1000, true, 501);
    }
    check_errors(&t, &gpu);
    ds_gpu_close(&gpu);
    return ds_test_finish(&t);
}
