// CUDA BCE-with-logits and MSE, forward and backward (PLAIN and FAST kernels), against the CPU
// ops on the same inputs: sizes 0 (loss NaN, as torch), 1, 7, 13, 91 (as a (7, 13) tensor), 1000,
// 2^20 + 5; F32 and BF16; logits up to |x| = 30 (where a naive BCE overflows); a misaligned view
// (FAST's scalar fallback); poisoned outputs; bit-identical repeat runs. Skipped (exit 77) without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

// Loss, F32 and BF16 inputs alike (BF16 inputs are pre-rounded, so both sides see the same
// values): every term is computed in double on both sides; they differ only in the order of the
// double sum and in exp/log1p's last double ulp (~1e-15 relative), and the mean is rounded once to
// fp32, so the two agree to within one fp32 ulp (6e-8). 1e-6 leaves a margin while one lost or
// doubled term of 2^20 (~1e-6 relative) or a wrong n fails.
#define TOL_LOSS 1e-6
// dx F32: the same double math rounded once to fp32: within one fp32 ulp; 1e-6.
#define TOL_GRAD_F32 1e-6
// dx BF16: one more rounding to bf16 on store (2^-9 relative); 1e-2.
#define TOL_GRAD_BF16 1e-2

static const int64_t k_sizes[] = {0, 1, 7, 13, 91, 1000, (1 << 20) + 5};

typedef enum { BCE = 0, MSE = 1 } kind;

static ds_status loss_fwd(ds_context *ctx, kind k, const ds_pointwise_loss_fwd_args *a) {
    return k == BCE ? ds_bce_with_logits_forward(ctx, a) : ds_mse_forward(ctx, a);
}
static ds_status loss_bwd(ds_context *ctx, kind k, const ds_pointwise_loss_bwd_args *a) {
    return k == BCE ? ds_bce_with_logits_backward(ctx, a) : ds_mse_backward(ctx, a);
}

// Compares the GPU's results for device views xd/td (n elements) with the CPU's on x/t (host).
static void compare(ds_test *t, ds_context *gpu, ds_context *cpu, kind k, ds_dtype dt, const char *tag,
                    const ds_tensor *x, const ds_tensor *tg, const ds_tensor *xd, const ds_tensor *td) {
    char what[192];
    const int64_t one = 1;
    const double dloss = 0.5;
    ds_tensor loss_want = ds_gpu_test_host_zeros(1, &one), dx_want = ds_gpu_test_host_zeros(x->ndim, x->shape);
    ds_pointwise_loss_fwd_args cf = {.x = *x, .target = *tg, .loss = loss_want};
    ds_test_check(t, loss_fwd(cpu, k, &cf) == DS_OK, "cpu forward: %s", cpu->err.msg);
    ds_pointwise_loss_bwd_args cb = {.x = *x, .target = *tg, .dx = dx_want, .dloss = dloss};
    ds_test_check(t, loss_bwd(cpu, k, &cb) == DS_OK, "cpu backward: %s", cpu->err.msg);

    ds_tensor lossd[2] = {ds_gpu_test_poisoned(gpu, &loss_want, DS_F32), ds_gpu_test_poisoned(gpu, &loss_want, DS_F32)};
    ds_tensor dxd = ds_gpu_test_poisoned(gpu, x, dt);
    ds_tensor loss_got[2];
    bool ok = true;
    for (int r = 0; r < 2; r++) {
        ds_pointwise_loss_fwd_args gf = {.x = *xd, .target = *td, .loss = lossd[r]};
        ok &= ds_test_check(t, loss_fwd(gpu, k, &gf) == DS_OK, "%s forward: %s", tag, gpu->err.msg);
        loss_got[r] = ds_gpu_test_download(gpu, &lossd[r]);
    }
    ds_pointwise_loss_bwd_args gb = {.x = *xd, .target = *td, .dx = dxd, .dloss = dloss};
    ok &= ds_test_check(t, loss_bwd(gpu, k, &gb) == DS_OK, "%s backward: %s", tag, gpu->err.msg);
    ds_tensor dx_got = ds_gpu_test_download(gpu, &dxd);
    if (ok) {
        const float lw = *(const float *)loss_want.data, lg = *(const float *)loss_got[0].data;
        if (ds_tensor_numel(x) == 0) {
            ds_test_check(t, isnan(lw) && isnan(lg), "%s: empty input: loss %g (CPU %g), NaN expected", tag,
                          (double)lg, (double)lw);
        } else {
            snprintf(what, sizeof what, "%s loss", tag);
            ds_test_close(t, what, &loss_got[0], &loss_want, TOL_LOSS);
            snprintf(what, sizeof what, "%s dx", tag);
            ds_test_close(t, what, &dx_got, &dx_want, dt == DS_F32 ? TOL_GRAD_F32 : TOL_GRAD_BF16);
        }
        ds_test_check(t, ds_gpu_test_same_bits(&loss_got[0], &loss_got[1]), "%s: two runs differ", tag);
    }
    ds_gpu_test_free(gpu, &lossd[0]), ds_gpu_test_free(gpu, &lossd[1]), ds_gpu_test_free(gpu, &dxd);
    free(loss_want.data), free(dx_want.data), free(loss_got[0].data), free(loss_got[1].data), free(dx_got.data);
}

static void random_inputs(kind k, ds_dtype dt, int ndim, const int64_t *shape, uint64_t seed, ds_tensor *x,
                          ds_tensor *tg) {
    *x = k == BCE ? ds_gpu_test_random(ndim, shape, seed, -30.0f, 30.0f)
                  : ds_gpu_test_random(ndim, shape, seed, -2.0f, 2.0f);
    *tg = k == BCE ? ds_gpu_test_random(ndim, shape, seed + 1, 0.0f, 1.0f)
                   : ds_gpu_test_random(ndim, shape, seed + 1, -2.0f, 2.0f);
    if (dt == DS_BF16) ds_gpu_test_round_bf16(x), ds_gpu_test_round_bf16(tg);
}

static void run_case(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, kind k, ds_dtype dt,
                     int64_t n) {
    char tag[128];
    snprintf(tag, sizeof tag, "%s %s %s n=%lld", variant, k == BCE ? "bce" : "mse", dt == DS_F32 ? "F32" : "BF16",
             (long long)n);
    const int64_t shape2[2] = {7, 13};
    const bool as_2d = n == 91;
    ds_tensor x, tg;
    random_inputs(k, dt, as_2d ? 2 : 1, as_2d ? shape2 : &n, (uint64_t)n * 5 + (uint64_t)k, &x, &tg);
    ds_tensor xd = ds_gpu_test_upload(gpu, &x, dt), td = ds_gpu_test_upload(gpu, &tg, dt);
    compare(t, gpu, cpu, k, dt, tag, &x, &tg, &xd, &td);
    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &td);
    free(x.data), free(tg.data);
}

// Views that start one element into their buffers (not 16-byte aligned).
static void run_misaligned(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, kind k) {
    char tag[128];
    snprintf(tag, sizeof tag, "%s %s F32 misaligned view", variant, k == BCE ? "bce" : "mse");
    const int64_t n = 1003, n1 = n + 1;
    ds_tensor x, tg, xb, tb;
    random_inputs(k, DS_F32, 1, &n, 77, &x, &tg);
    xb = ds_gpu_test_host_zeros(1, &n1), tb = ds_gpu_test_host_zeros(1, &n1);
    memcpy((float *)xb.data + 1, x.data, sizeof(float) * (size_t)n);
    memcpy((float *)tb.data + 1, tg.data, sizeof(float) * (size_t)n);
    ds_tensor xbd = ds_gpu_test_upload(gpu, &xb, DS_F32), tbd = ds_gpu_test_upload(gpu, &tb, DS_F32);
    ds_tensor xv = ds_tensor_make((float *)xbd.data + 1, DS_F32, xbd.device, 1, &n);
    ds_tensor tv = ds_tensor_make((float *)tbd.data + 1, DS_F32, tbd.device, 1, &n);
    compare(t, gpu, cpu, k, DS_F32, tag, &x, &tg, &xv, &tv);
    ds_gpu_test_free(gpu, &xbd), ds_gpu_test_free(gpu, &tbd);
    free(x.data), free(tg.data), free(xb.data), free(tb.data);
}

static void check_errors(ds_test *t, ds_context *gpu) {
    const int64_t n = 8, m = 9, one = 1;
    ds_tensor x = ds_gpu_test_random(1, &n, 1, 0, 1), y = ds_gpu_test_random(1, &m, 1, 0, 1),
              l = ds_gpu_test_host_zeros(1, &one);
    ds_tensor xd = ds_gpu_test_upload(gpu, &x, DS_F32), yd = ds_gpu_test_upload(gpu, &y, DS_F32);
    ds_tensor xb = ds_gpu_test_upload(gpu, &x, DS_BF16), ld = ds_gpu_test_poisoned(gpu, &l, DS_F32);
    ds_err_clear(&gpu->err);
    ds_pointwise_loss_fwd_args a = {.x = xd, .target = yd, .loss = ld};
    ds_test_check(t, ds_mse_forward(gpu, &a) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, "mse_forward: target"),
                  "target of another size: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    a.target = xb;
    ds_test_check(t, ds_bce_with_logits_forward(gpu, &a) == DS_ERR_INVALID_ARG &&
                         strstr(gpu->err.msg, "bce_with_logits_forward: target"),
                  "target of another dtype: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &yd), ds_gpu_test_free(gpu, &xb), ds_gpu_test_free(gpu, &ld);
    free(x.data), free(y.data), free(l.data);
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    if (!ds_gpu_test_open(&gpu, "cuda_pointwise_loss")) return DS_TEST_SKIP;
    ds_context cpu = ds_context_cpu();
    ds_test t = ds_test_begin("cuda_pointwise_loss");
    const ds_kernel_variant variants[2] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    for (int v = 0; v < 2; v++) {
        ds_gpu_set_kernels(&gpu, variants[v]);
        const char *vn = v == 0 ? "PLAIN" : "FAST";
        for (int k = 0; k < 2; k++) {
            for (size_t i = 0; i < sizeof k_sizes / sizeof k_sizes[0]; i++) {
                run_case(&t, &gpu, &cpu, vn, (kind)k, DS_F32, k_sizes[i]);
                run_case(&t, &gpu, &cpu, vn, (kind)k, DS_BF16, k_sizes[i]);
            }
            run_misaligned(&t, &gpu, &cpu, vn, (kind)k);
        }
    }
    check_errors(&t, &gpu);
    ds_gpu_close(&gpu);
    return ds_test_finish(&t);
}
