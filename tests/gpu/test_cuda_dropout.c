// CUDA dropout forward/backward (PLAIN and FAST kernels) against the CPU op: the keep masks come
// from the same Philox stream, so F32 results must be bit-identical to the CPU's and BF16 results
// bit-identical to the CPU's (on pre-rounded inputs) rounded to bf16. Odd sizes (partial last
// group of 4), seeds and offsets with high bits set, p = 0 (identity), in-place use, a misaligned
// view (FAST's scalar fallback), poisoned outputs, and p outside [0, 1) rejected.
// Skipped (exit 77) without a GPU.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

static const int64_t k_sizes[] = {1, 7, 13, 91, 4099, (1 << 20) + 3};
static const float k_ps[] = {0.0f, 0.1f, 0.5f, 0.9f};

// Bit-for-bit equality of two host F32 tensors (a BF16 result widened to F32 is exact, so this
// compares the bf16 bits too).

static int64_t first_difference(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof(float)) != 0) return i;
    return -1;
}

// Runs forward (bwd == false) or backward on the GPU with in/out device tensors.
static ds_status gpu_dropout(ds_context *gpu, bool bwd, ds_tensor in, ds_tensor out, float p, uint64_t offset) {
    if (bwd) {
        ds_dropout_bwd_args a = {.dy = in, .dx = out, .p = p, .offset = offset};
        return ds_dropout_backward(gpu, &a);
    }
    ds_dropout_fwd_args a = {.x = in, .y = out, .p = p, .offset = offset};
    return ds_dropout_forward(gpu, &a);
}

static void run_case(ds_test *t, ds_context *gpu, ds_context *cpu, const char *variant, ds_dtype dt, bool bwd,
                     int64_t n, float p, uint64_t offset) {
    char what[160];
    snprintf(what, sizeof what, "%s %s %s n=%lld p=%g", variant, dt == DS_F32 ? "F32" : "BF16",
             bwd ? "backward" : "forward", (long long)n, (double)p);
    ds_tensor x = ds_gpu_test_random_rounded(1, &n, (uint64_t)n * 31 + (bwd ? 7 : 0), -1.0f, 1.0f, dt == DS_BF16);
    ds_tensor want = ds_gpu_test_host_zeros(1, &n);
    ds_status cs;
    if (bwd) {
        ds_dropout_bwd_args a = {.dy = x, .dx = want, .p = p, .offset = offset};
        cs = ds_dropout_backward(cpu, &a);
    } else {
        ds_dropout_fwd_args a = {.x = x, .y = want, .p = p, .offset = offset};
        cs = ds_dropout_forward(cpu, &a);
    }
    ds_test_check(t, cs == DS_OK, "cpu dropout: %s", cpu->err.msg);
    if (dt == DS_BF16) ds_gpu_test_round_bf16(&want);  // x * scale in fp32, rounded once, as on the GPU

    if (n > 100000 && p == 0.5f) {  // the reference itself drops about half (else this test proves little)
        int64_t zeros = 0;
        for (int64_t i = 0; i < n; i++) zeros += ((float *)want.data)[i] == 0.0f;
        ds_test_check(t, fabs((double)zeros / (double)n - 0.5) < 0.01, "%s: the CPU dropped %lld of %lld", what,
                      (long long)zeros, (long long)n);
    }

    ds_tensor xd = ds_gpu_test_upload(gpu, &x, dt), yd = ds_gpu_test_poisoned(gpu, &x, dt);
    if (ds_test_check(t, gpu_dropout(gpu, bwd, xd, yd, p, offset) == DS_OK, "%s: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &yd);
        const int64_t d = first_difference(got.data, want.data, n);
        ds_test_check(t, d < 0, "%s: element %lld is %.9g, the CPU's is %.9g", what, (long long)d,
                      d < 0 ? 0.0 : (double)((float *)got.data)[d], d < 0 ? 0.0 : (double)((float *)want.data)[d]);
        free(got.data);
    }
    // In place: out is the input buffer.
    if (ds_test_check(t, gpu_dropout(gpu, bwd, xd, xd, p, offset) == DS_OK, "%s in place: %s", what, gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &xd);
        ds_test_check(t, ds_gpu_test_same_bits(&got, &want), "%s in place: differs from the CPU", what);
        free(got.data);
    }
    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &yd);
    free(x.data), free(want.data);
}

// A view that starts one element into its buffer: FAST cannot use vector accesses and must fall
// back; the result must still equal the CPU's.
static void check_misaligned(ds_test *t, ds_context *gpu, ds_context *cpu, uint64_t offset) {
    const int64_t n = 1001, n1 = n + 1;
    ds_tensor x = ds_gpu_test_random(1, &n, 99, -1.0f, 1.0f), want = ds_gpu_test_host_zeros(1, &n);
    ds_dropout_fwd_args ca = {.x = x, .y = want, .p = 0.3f, .offset = offset};
    ds_test_check(t, ds_dropout_forward(cpu, &ca) == DS_OK, "cpu dropout: %s", cpu->err.msg);
    ds_tensor big = ds_gpu_test_host_zeros(1, &n1);
    memcpy((float *)big.data + 1, x.data, sizeof(float) * (size_t)n);
    ds_tensor bigd = ds_gpu_test_upload(gpu, &big, DS_F32), outd = ds_gpu_test_poisoned(gpu, &big, DS_F32);
    ds_tensor xv = ds_tensor_make((float *)bigd.data + 1, DS_F32, bigd.device, 1, &n);
    ds_tensor yv = ds_tensor_make((float *)outd.data + 1, DS_F32, outd.device, 1, &n);
    if (ds_test_check(t, gpu_dropout(gpu, false, xv, yv, 0.3f, offset) == DS_OK, "misaligned: %s", gpu->err.msg)) {
        ds_tensor got = ds_gpu_test_download(gpu, &yv);
        ds_test_check(t, ds_gpu_test_same_bits(&got, &want), "misaligned view: differs from the CPU");
        free(got.data);
    }
    ds_gpu_test_free(gpu, &bigd), ds_gpu_test_free(gpu, &outd);
    free(x.data), free(want.data), free(big.data);
}

static void check_errors(ds_test *t, ds_context *gpu) {
    const int64_t n = 8;
    ds_tensor x = ds_gpu_test_random(1, &n, 3, -1.0f, 1.0f);
    ds_tensor xd = ds_gpu_test_upload(gpu, &x, DS_F32), yd = ds_gpu_test_poisoned(gpu, &x, DS_F32);
    ds_tensor yb = ds_gpu_test_poisoned(gpu, &x, DS_BF16);
    ds_err_clear(&gpu->err);
    ds_test_check(t, gpu_dropout(gpu, false, xd, yd, 1.0f, 0) == DS_ERR_INVALID_ARG && strstr(gpu->err.msg, "p must"),
                  "p = 1 must be rejected: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    ds_test_check(t, gpu_dropout(gpu, true, xd, yb, 0.5f, 0) == DS_ERR_INVALID_ARG &&
                         strstr(gpu->err.msg, "dropout_backward: dx"),
                  "dx of another dtype must be rejected: got '%s'", gpu->err.msg);
    ds_err_clear(&gpu->err);
    ds_gpu_test_free(gpu, &xd), ds_gpu_test_free(gpu, &yd), ds_gpu_test_free(gpu, &yb);
    free(x.data);
}

int main(void) {
    ds_context gpu = ds_context_cpu();
    if (!ds_gpu_test_open(&gpu, "cuda_dropout")) return DS_TEST_SKIP;
    ds_context cpu = ds_context_cpu();
    gpu.seed = cpu.seed = 0x0123456789abcdefull;  // both key words non-zero
    const uint64_t offset = 0x00000005deadbeefull;  // both counter words non-zero
    ds_test t = ds_test_begin("cuda_dropout");
    const ds_kernel_variant variants[2] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    for (int v = 0; v < 2; v++) {
        ds_gpu_set_kernels(&gpu, variants[v]);
        const char *vn = v == 0 ? "PLAIN" : "FAST";
        for (size_t i = 0; i < sizeof k_sizes / sizeof k_sizes[0]; i++)
            for (size_t j = 0; j < sizeof k_ps / sizeof k_ps[0]; j++)
                for (int bwd = 0; bwd < 2; bwd++) {
                    run_case(&t, &gpu, &cpu, vn, DS_F32, bwd, k_sizes[i], k_ps[j], offset + (uint64_t)j);
                    run_case(&t, &gpu, &cpu, vn, DS_BF16, bwd, k_sizes[i], k_ps[j], offset + (uint64_t)j);
                }
        check_misaligned(&t, &gpu, &cpu, offset);
    }
    check_errors(&t, &gpu);
    ds_gpu_close(&gpu);
    return ds_test_finish(&t);
}
