// CUDA softmax forward/backward (PLAIN and FAST kernels) against the CPU op on the same inputs:
// odd shapes (rows of 2 .. 30522 columns; FAST's register path with and without 16-byte access
// and its block fallback above 1024 columns), F32 and BF16, poisoned outputs, and bit-identical
// repeat runs. Skipped (exit 77) without a GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

// F32: both sides compute in fp32 from the same inputs; they differ in the order of the row sum
// (a tree here, a double sum on the CPU) and in expf's last ulp, which moves a result by a few
// ulp (~1e-7 relative; log2(30522) * 6e-8 ~ 1e-6 for the longest rows). 1e-5 leaves a 10x margin
// while any indexing or reduction bug is off by order 1.
#define TOL_F32 1e-5
// BF16: inputs are pre-rounded, so the only extra error is the one rounding of each output to
// bf16 (2^-9 ~ 2e-3 relative); 1e-2 covers it with margin.
#define TOL_BF16 1e-2

static const int64_t k_shapes[][2] = {{1, 2}, {7, 13}, {13, 2}, {7, 1000}, {5, 1024}, {3, 1025}, {13, 30522}, {1, 7}};

static void run_case(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, ds_dtype dt, int64_t n,
                     int64_t c, uint64_t seed) {
    char what[160];
    const char *dn = dt == DS_F32 ? "F32" : "BF16";
    const double tol = dt == DS_F32 ? TOL_F32 : TOL_BF16;
    const int64_t shape[2] = {n, c};

    // ---- forward ----
    ds_tensor x = ds_gpu_test_random_rounded(2, shape, seed, -4.0f, 4.0f, dt == DS_BF16);
    ds_tensor y_want = ds_gpu_test_host_zeros(2, shape);
    ds_softmax_fwd_args cf = {.x = x, .y = y_want};
    ds_test_check(t, ds_softmax_forward(cpu, &cf) == DS_OK, "cpu softmax_forward: %s", cpu->err.msg);

    ds_tensor xd = ds_gpu_test_upload(gpu, &x, dt);
    ds_tensor yd = ds_gpu_test_poisoned(gpu, &xd, dt), yd2 = ds_gpu_test_poisoned(gpu, &xd, dt);
    ds_softmax_fwd_args gf = {.x = xd, .y = yd};
    snprintf(what, sizeof what, "%s %s (%lld, %lld) y", variant, dn, (long long)n, (long long)c);
    if (ds_test_check(t, ds_softmax_forward(gpu, &gf) == DS_OK, "%s: %s", what, gpu->err.msg)) {
        ds_tensor y = ds_gpu_test_download(gpu, &yd);
        ds_test_close(t, what, &y, &y_want, tol);
        gf.y = yd2;
        ds_test_check(t, ds_softmax_forward(gpu, &gf) == DS_OK, "%s (second run): %s", what, gpu->err.msg);
        ds_tensor y2 = ds_gpu_test_download(gpu, &yd2);
        ds_test_check(t, ds_gpu_test_same_bits(&y, &y2), "%s: two runs differ", what);
        free(y.data), free(y2.data);
    }

    // ---- backward, from the CPU's y (rounded like the GPU sees it) ----
    ds_tensor yin = ds_gpu_test_host_copy(&y_want);
    if (dt == DS_BF16) ds_gpu_test_round_bf16(&yin);
    ds_tensor dy = ds_gpu_test_random_rounded(2, shape, seed ^ 0x5555, -1.0f, 1.0f, dt == DS_BF16);
    ds_tensor dx_want = ds_gpu_test_host_zeros(2, shape);
    ds_softmax_bwd_args cb = {.y = yin, .dy = dy, .dx = dx_want};
    ds_test_check(t, ds_softmax_backward(cpu, &cb) == DS_OK, "cpu softmax_backward: %s", cpu->err.msg);

    ds_tensor yind = ds_gpu_test_upload(gpu, &yin, dt), dyd = ds_gpu_test_upload(gpu, &dy, dt);
    ds_tensor dxd = ds_gpu_test_poisoned(gpu, &xd, dt), dxd2 = ds_gpu_test_poisoned(gpu, &xd, dt);
    ds_softmax_bwd_args gb = {.y = yind, .dy = dyd, .dx = dxd};
    snprintf(what, sizeof what, "%s %s (%lld, %lld) dx", variant, dn, (long long)n, (long long)c);
    if (ds_test_check(t, ds_softmax_backward(gpu, &gb) == DS_OK, "%s: %s", what, gpu->err.msg)) {
        ds_tensor dxg = ds_gpu_test_download(gpu, &dxd);
        ds_test_close(t, what, &dxg, &dx_want, tol);
        gb.dx = dxd2;
        ds_test_check(t, ds_softmax_backward(gpu, &gb) == DS_OK, "%s (second run): %s", what, gpu->err.msg);
        ds_tensor dxg2 = ds_gpu_test_download(gpu, &dxd2);
        ds_test_check(t, ds_gpu_test_same_bits(&dxg, &dxg2), "%s: two runs differ", what);
        free(dxg.data), free(dxg2.data);
    }

    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &yd), ds_gpu_test_free(gpu, &yd2);
    ds_gpu_test_free(gpu, &yind), ds_gpu_test_free(gpu, &dyd), ds_gpu_test_free(gpu, &dxd);
    ds_gpu_test_free(gpu, &dxd2);
    free(x.data), free(y_want.data), free(yin.data), free(dy.data), free(dx_want.data);
}

// Wrong dtype and shape are reported, naming the op.
static void check_errors(ds_test *t, ds_context *gpu) {
    const int64_t shape[2] = {3, 5}, other[2] = {3, 6};
    ds_tensor xh = ds_gpu_test_random(2, shape, 1, 0, 1);
    ds_tensor xd = ds_gpu_test_upload(gpu, &xh, DS_F32);
    ds_tensor yh = ds_gpu_test_random(2, other, 1, 0, 1);
    ds_tensor yd = ds_gpu_test_upload(gpu, &yh, DS_F32), yb = ds_gpu_test_poisoned(gpu, &xh, DS_BF16);
    ds_err_clear(&gpu->err);
    ds_softmax_fwd_args a = {.x = xd, .y = yd};
    ds_test_check(t, ds_softmax_forward(gpu, &a) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, "softmax_forward: y"),
                  "wrong y shape: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    a.y = yb;
    ds_test_check(t, ds_softmax_forward(gpu, &a) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, "softmax_forward: y"),
                  "y dtype differs from x: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &yd), ds_gpu_test_free(gpu, &yb);
    free(xh.data), free(yh.data);
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    if (!ds_gpu_test_open(&gpu, "cuda_softmax")) return DS_TEST_SKIP;
    ds_context cpu = ds_context_cpu();
    ds_test t = ds_test_begin("cuda_softmax");
    const ds_kernel_variant variants[2] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    for (int v = 0; v < 2; v++) {
        ds_gpu_set_kernels(&gpu, variants[v]);
        const char *vn = v == 0 ? "PLAIN" : "FAST";
        for (size_t k = 0; k < sizeof k_shapes / sizeof k_shapes[0]; k++) {
            run_case(&t, &gpu, &cpu, vn, DS_F32, k_shapes[k][0], k_shapes[k][1], 100 + k);
            run_case(&t, &gpu, &cpu, vn, DS_BF16, k_shapes[k][0], k_shapes[k][1], 200 + k);
        }
    }
    check_errors(&t, &gpu);
    ds_gpu_close(&gpu);
    return ds_test_finish(&t);
}
