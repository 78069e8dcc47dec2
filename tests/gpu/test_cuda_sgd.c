// CUDA SGD with momentum (kernels/cuda/sgd.cu) against the CPU op (kernels/cpu/sgd.c), BIT-EXACT:
// param, the momentum buffer and the BF16 working copy after each of 10 steps of a run that is
// never resynchronised with the CPU.
//
// Why bit-exactness is expected (tolerance 0): both ops take the step's scalars from the same host
// function (ds_sgd_scalars_of) and the kernel repeats the CPU's per-element fp32 operations in the
// same order with the same roundings (mul and add correctly rounded on both sides, fma exactly
// where the CPU calls fmaf, through _rn intrinsics nvcc never contracts); no reductions. Step 1
// takes the buffer-is-the-gradient branch (torch clones the gradient), the others the momentum
// update. Gradients include zeros and values whose products are fp32 denormals.
//
// Cases: n = 1, 1000, 2^20 + 3 (2^14 + 3 with DS_TEST_SMALL=1); momentum with and without
// Nesterov, with weight decay and a clip factor, and plain SGD (no buffer); decay mask absent and
// present; BF16 copy present. Argument errors are checked too. Skipped (exit 77) without a GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/dtype.h"
#include "../gpu_test_util.h"

#define STEPS 10

typedef struct hparams {
    const char *name;
    double lr, momentum, weight_decay, grad_scale;
    bool nesterov;
} hparams;

static const hparams k_sets[] = {
    {"torchvision", 1e-2, 0.9, 1e-4, 1.0, false},
    {"nesterov-clipped", 5e-2, 0.8, 1e-3, 0.37, true},
    {"plain", 1e-1, 0.0, 0.0, 1.0, false},
};

static float *random_f32(int64_t n, uint64_t seed, float lo, float hi) {
    const int64_t shape[] = {n};
    return ds_gpu_test_random(1, shape, seed, lo, hi).data;
}

// Runs STEPS steps on `dev` (CPU or CUDA tensors made from the same host inputs) and returns the
// host copies of param, buf and bf16 after the last step.
typedef struct run_out {
    float *p, *buf;
    unsigned short *bf16;
} run_out;

static bool run(ds_test *t, ds_context *ctx, bool cuda, int64_t n, const hparams *h, bool masked, run_out *out) {
    const size_t b = sizeof(float) * (size_t)n;
    float *p = random_f32(n, 1, -1.0f, 1.0f), *buf = calloc((size_t)n, sizeof(float));
    unsigned short *bf16 = malloc(sizeof(unsigned short) * (size_t)n);
    unsigned char *mask = malloc((size_t)n);
    uint64_t st = 4;
    for (int64_t i = 0; i < n; i++) mask[i] = (unsigned char)(ds_gpu_test_splitmix64(&st) % 3 != 0);
    ds_tensor hp = ds_tensor_cpu1(p, DS_F32, n), hb = ds_tensor_cpu1(buf, DS_F32, n), hm = ds_tensor_cpu1(mask, DS_U8, n);
    ds_tensor dp = cuda ? ds_gpu_test_upload(ctx, &hp, DS_F32) : hp;
    ds_tensor db = cuda ? ds_gpu_test_upload(ctx, &hb, DS_F32) : hb;
    ds_tensor dm = cuda ? ds_gpu_test_upload(ctx, &hm, DS_U8) : hm;
    ds_tensor dbf = cuda ? ds_gpu_test_poisoned(ctx, &hp, DS_BF16) : ds_tensor_cpu1(bf16, DS_BF16, n);
    bool ok = true;
    for (int64_t s = 1; s <= STEPS && ok; s++) {
        float *g = random_f32(n, 100 + (uint64_t)s, -1.0f, 1.0f);
        for (int64_t i = 0; i < n; i++) {
            if (i % 89 == 7) g[i] = 0.0f;
            if (i % 97 == 5) g[i] *= 1e-30f;
        }
        ds_tensor hg = ds_tensor_cpu1(g, DS_F32, n);
        ds_tensor dg = cuda ? ds_gpu_test_upload(ctx, &hg, DS_F32) : hg;
        const ds_sgd_args a = {.param = dp, .grad = dg, .momentum_buf = h->momentum != 0 ? db : (ds_tensor){0},
                               .param_bf16 = dbf, .decay_mask = masked ? dm : (ds_tensor){0}, .lr = h->lr,
                               .momentum = h->momentum, .weight_decay = h->weight_decay, .grad_scale = h->grad_scale,
                               .nesterov = h->nesterov, .step = s};
        ok = ds_test_check(t, ds_sgd_step(ctx, &a) == DS_OK, "%s sgd step %lld: %s", cuda ? "cuda" : "cpu", (long long)s,
                           ctx->err.msg);
        if (cuda) {
            ds_gpu_sync(ctx);
            ds_gpu_test_free(ctx, &dg);
        }
        free(g);
    }
    out->p = malloc(b), out->buf = malloc(b), out->bf16 = malloc(sizeof(unsigned short) * (size_t)n);
    if (cuda) {
        ds_tensor a = ds_gpu_test_download(ctx, &dp), c = ds_gpu_test_download(ctx, &db), d = ds_gpu_test_download(ctx, &dbf);
        memcpy(out->p, a.data, b), memcpy(out->buf, c.data, b), memcpy(out->bf16, d.data, sizeof(unsigned short) * (size_t)n);
        free(a.data), free(c.data), free(d.data);
        ds_gpu_test_free(ctx, &dp), ds_gpu_test_free(ctx, &db), ds_gpu_test_free(ctx, &dm), ds_gpu_test_free(ctx, &dbf);
    } else {
        memcpy(out->p, p, b), memcpy(out->buf, buf, b), memcpy(out->bf16, bf16, sizeof(unsigned short) * (size_t)n);
    }
    free(p), free(buf), free(bf16), free(mask);
    return ok;
}

static void run_out_free(run_out *o) { free(o->p), free(o->buf), free(o->bf16); }

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_sgd")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_sgd");
    const char *small = getenv("DS_TEST_SMALL");
    const bool is_small = small != NULL && small[0] != '\0' && strcmp(small, "0") != 0;
    const int64_t sizes[] = {1, 1000, is_small ? (1 << 14) + 3 : (1 << 20) + 3};
    ds_context cpu = ds_context_cpu();
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++)
        for (size_t hi = 0; hi < sizeof k_sets / sizeof k_sets[0]; hi++)
            for (int masked = 0; masked < 2; masked++) {
                run_out want, got;
                const int64_t n = sizes[si];
                if (!run(&t, &cpu, false, n, &k_sets[hi], masked, &want)) continue;
                if (run(&t, &ctx, true, n, &k_sets[hi], masked, &got)) {
                    int64_t dp = 0, db = 0, dh = 0;
                    for (int64_t i = 0; i < n; i++) {
                        dp += memcmp(&got.p[i], &want.p[i], 4) != 0;
                        db += memcmp(&got.buf[i], &want.buf[i], 4) != 0;
                        dh += got.bf16[i] != want.bf16[i];
                    }
                    ds_test_check(&t, dp == 0 && db == 0 && dh == 0,
                                  "n=%lld %s mask=%d: %lld param, %lld buffer, %lld bf16 of %lld differ from the CPU's "
                                  "bits after %d steps", (long long)n, k_sets[hi].name, masked, (long long)dp,
                                  (long long)db, (long long)dh, (long long)n, STEPS);
                    run_out_free(&got);
                }
                run_out_free(&want);
            }
    // Argument errors name the op and the tensor.
    const int64_t shape[] = {8};
    ds_tensor h = ds_gpu_test_host_zeros(1, shape);
    ds_tensor d = ds_gpu_test_upload(&ctx, &h, DS_F32), d2 = ds_gpu_test_upload(&ctx, &h, DS_F32);
    ds_sgd_args a = {.param = d, .grad = h, .lr = 0.1, .momentum = 0, .step = 1};
    ds_gpu_test_expect_invalid_arg(&t, &ctx, ds_sgd_step(&ctx, &a), "sgd", "grad on the host");
    a.grad = d2;
    a.momentum = 0.9;  // momentum without a buffer
    ds_gpu_test_expect_invalid_arg(&t, &ctx, ds_sgd_step(&ctx, &a), "sgd", "momentum without a buffer");
    ds_gpu_test_free(&ctx, &d), ds_gpu_test_free(&ctx, &d2);
    free(h.data);
    return ds_test_finish(&t);
}
