// CUDA AdamW (kernels/cuda/adamw.cu) against the CPU op (kernels/cpu/adamw.c), BIT-EXACT:
// param, m, v and the BF16 working copy, after step 1 and after step 10 of a run that is never
// resynchronised with the CPU, for both kernel variants (PLAIN, FAST).
//
// Why bit-exactness is expected (and so the tolerance is 0): both ops take the step's scalars
// from the same host function (ds_adamw_scalars_of), and the kernels repeat the CPU's per-element
// fp32 operations in the same order with the same roundings: add/sub/mul/div/sqrt correctly
// rounded (IEEE-754, round to nearest even) on both sides, fma where the CPU calls fmaf and
// nowhere else (explicit _rn intrinsics, which nvcc never contracts), denormals kept on both
// sides, no reductions. The gradients include zeros and tiny values whose squares are fp32
// denormals, so a flush-to-zero or a contracted multiply-add would show.
//
// Cases: n = 1, 1000, 2^20 + 3 (not a multiple of 4: FAST's scalar tail); four hyperparameter
// sets (torch's defaults; grad_scale < 1 with large lr and decay; no decay; beta1 < 0.5, which
// takes the other branch of torch's lerp); decay_mask absent/present x param_bf16 present/absent;
// a view one element off the allocation (FAST falls back to PLAIN: not 16-byte aligned).
// param_bf16 starts poisoned (NaN bits) and must equal the CPU op's BF16 output and the
// round-to-nearest-even of the GPU's new param. Argument errors are checked too.
//
// DS_TEST_SMALL=1 (set by scripts/gpu_check.sh for compute-sanitizer runs) replaces 2^20 + 3 by
// 2^14 + 3. Skipped (exit 77) without a GPU.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/dtype.h"
#include "../gpu_test_util.h"

#define STEPS 10

typedef struct hparams {
    const char *name;
    double lr, beta1, beta2, eps, weight_decay, grad_scale;
} hparams;

static const hparams k_sets[] = {
    {"torch-defaults", 1e-3, 0.9, 0.999, 1e-8, 1e-2, 1.0},
    {"clipped", 5e-2, 0.8, 0.99, 1e-6, 0.1, 0.37},  // grad_scale < 1 and not a power of 2
    {"no-decay", 2e-5, 0.9, 0.999, 1e-6, 0.0, 0.8125},
    {"beta1<0.5", 3e-3, 0.3, 0.95, 1e-7, 0.05, 0.5},  // lerp weight 1 - beta1 >= 0.5: the other branch
};

typedef struct layout {
    bool mask, bf16;
    int64_t offset;  // elements between the allocation's start and the tensor's first element
} layout;

static const layout k_layouts[] = {
    {false, true, 0},
    {true, true, 0},
    {true, false, 0},
    {true, true, 1},  // misaligned view: FAST must fall back to PLAIN
};

// The inputs of one size: initial state and one gradient per step, (n) host each.
typedef struct inputs {
    int64_t n;
    float *p0, *m0, *v0;
    float *grads[STEPS];
    unsigned char *mask;
} inputs;

static float *random_f32(int64_t n, uint64_t seed, float lo, float hi) {
    const int64_t shape[] = {n};
    return ds_gpu_test_random(1, shape, seed, lo, hi).data;
}

static void make_inputs(inputs *in, int64_t n) {
    in->n = n;
    in->p0 = random_f32(n, 1, -1.0f, 1.0f);
    in->m0 = random_f32(n, 2, -1e-2f, 1e-2f);
    in->v0 = random_f32(n, 3, 0.0f, 1e-3f);  // v >= 0, as after any number of steps
    for (int s = 0; s < STEPS; s++) {
        float *g = random_f32(n, 100 + (uint64_t)s, -1.0f, 1.0f);
        for (int64_t i = 0; i < n; i++) {
            if (i % 89 == 7) g[i] = 0.0f;
            if (i % 97 == 5) g[i] *= 1e-20f;  // g^2 ~ 1e-40: an fp32 denormal
        }
        in->grads[s] = g;
    }
    in->mask = malloc((size_t)n);
    uint64_t st = 4;
    for (int64_t i = 0; i < n; i++) in->mask[i] = (unsigned char)(ds_gpu_test_splitmix64(&st) % 3 != 0);
}

static void free_inputs(inputs *in) {
    free(in->p0), free(in->m0), free(in->v0), free(in->mask);
    for (int s = 0; s < STEPS; s++) free(in->grads[s]);
}

// The state after step 1 and after step STEPS, (n) host each.
typedef struct snapshot {
    float *p, *m, *v;
    unsigned short *bf16;
} snapshot;

static snapshot snap_alloc(int64_t n) {
    const size_t b = sizeof(float) * (size_t)n;
    return (snapshot){malloc(b), malloc(b), malloc(b), malloc(sizeof(unsigned short) * (size_t)n)};
}
static void snap_free(snapshot *s) { free(s->p), free(s->m), free(s->v), free(s->bf16); }

static ds_adamw_args args_for(const hparams *h, int64_t step) {
    return (ds_adamw_args){.lr = h->lr, .beta1 = h->beta1, .beta2 = h->beta2, .eps = h->eps,
                           .weight_decay = h->weight_decay, .grad_scale = h->grad_scale, .step = step};
}

// The CPU reference: STEPS steps from the initial state; snapshots after step 1 and STEPS.
static bool run_cpu(ds_test *t, ds_context *ctx, const inputs *in, const hparams *h, const layout *l,
                    snapshot snaps[2]) {
    const int64_t n = in->n;
    const size_t b = sizeof(float) * (size_t)n;
    float *p = malloc(b), *m = malloc(b), *v = malloc(b);
    unsigned short *bf16 = malloc(sizeof(unsigned short) * (size_t)n);
    memcpy(p, in->p0, b), memcpy(m, in->m0, b), memcpy(v, in->v0, b);
    bool ok = true;
    for (int64_t s = 1; s <= STEPS && ok; s++) {
        ds_adamw_args a = args_for(h, s);
        a.param = ds_tensor_cpu1(p, DS_F32, n);
        a.grad = ds_tensor_cpu1(in->grads[s - 1], DS_F32, n);
        a.m = ds_tensor_cpu1(m, DS_F32, n);
        a.v = ds_tensor_cpu1(v, DS_F32, n);
        a.param_bf16 = ds_tensor_cpu1(bf16, DS_BF16, n);  // always, so the GPU's can be compared
        a.decay_mask = ds_tensor_cpu1(l->mask ? in->mask : NULL, DS_U8, n);
        ok = ds_test_check(t, ds_adamw_step(ctx, &a) == DS_OK, "cpu adamw step %lld: %s", (long long)s, ctx->err.msg);
        snapshot *d = s == 1 ? &snaps[0] : s == STEPS ? &snaps[1] : NULL;
        if (d != NULL) {
            memcpy(d->p, p, b), memcpy(d->m, m, b), memcpy(d->v, v, b);
            memcpy(d->bf16, bf16, sizeof(unsigned short) * (size_t)n);
        }
    }
    free(p), free(m), free(v), free(bf16);
    return ok;
}

// A device buffer of n + offset elements and the (n) tensor view starting `offset` elements in.
typedef struct dev_buf {
    void *base;
    size_t bytes;
    ds_tensor t;
} dev_buf;

static dev_buf dev_make(ds_context *ctx, ds_dtype dt, int64_t n, int64_t offset) {
    dev_buf d = {NULL, ds_dtype_size(dt) * (size_t)(n + offset), {0}};
    if (ds_gpu_alloc(ctx, d.bytes, &d.base) != DS_OK) {
        fprintf(stderr, "cuda_adamw: %s\n", ctx->err.msg);
        exit(1);  // test program: an allocation failure ends the test as failed
    }
    const int64_t shape[] = {n};
    d.t = ds_tensor_make((char *)d.base + ds_dtype_size(dt) * (size_t)offset, dt,
                         (ds_device){DS_DEVICE_CUDA, ctx->device.index}, 1, shape);
    return d;
}

static int64_t count_differ(const void *got, const void *want, int64_t n, size_t elem) {
    int64_t bad = 0;
    const char *g = got, *w = want;
    for (int64_t i = 0; i < n; i++) bad += memcmp(g + elem * (size_t)i, w + elem * (size_t)i, elem) != 0;
    return bad;
}

// Downloads param, m, v (and bf16) and compares them bit for bit with the CPU's snapshot.
static void compare(ds_test *t, ds_context *ctx, const char *what, int64_t step, const dev_buf *p, const dev_buf *m,
                    const dev_buf *v, const dev_buf *bf16, const snapshot *want, int64_t n) {
    const size_t b = sizeof(float) * (size_t)n;
    float *gp = malloc(b), *gm = malloc(b), *gv = malloc(b);
    unsigned short *gb = malloc(sizeof(unsigned short) * (size_t)n);
    ds_status s = ds_gpu_sync(ctx);
    if (s == DS_OK) s = ds_gpu_download(ctx, gp, p->t.data, b);
    if (s == DS_OK) s = ds_gpu_download(ctx, gm, m->t.data, b);
    if (s == DS_OK) s = ds_gpu_download(ctx, gv, v->t.data, b);
    if (s == DS_OK && bf16) s = ds_gpu_download(ctx, gb, bf16->t.data, sizeof(unsigned short) * (size_t)n);
    if (s == DS_OK) s = ds_gpu_sync(ctx);
    if (ds_test_check(t, s == DS_OK, "%s step %lld: device error: %s", what, (long long)step, ctx->err.msg)) {
        const int64_t dp = count_differ(gp, want->p, n, 4), dm = count_differ(gm, want->m, n, 4),
                      dv = count_differ(gv, want->v, n, 4);
        ds_test_check(t, dp == 0 && dm == 0 && dv == 0,
                      "%s step %lld: %lld param, %lld m, %lld v of %lld values differ from the CPU's bits", what,
                      (long long)step, (long long)dp, (long long)dm, (long long)dv, (long long)n);
        if (bf16) {
            int64_t not_rne = 0;
            for (int64_t i = 0; i < n; i++) not_rne += gb[i] != ds_f32_to_bf16(gp[i]);
            const int64_t db = count_differ(gb, want->bf16, n, 2);
            ds_test_check(t, db == 0 && not_rne == 0,
                          "%s step %lld: param_bf16: %lld of %lld differ from the CPU's, %lld are not the "
                          "round-to-nearest-even of param",
                          what, (long long)step, (long long)db, (long long)n, (long long)not_rne);
        }
    }
    free(gp), free(gm), free(gv), free(gb);
}

// The same STEPS steps on the GPU with kernel variant `var`, compared after step 1 and STEPS.
static void run_gpu(ds_test *t, ds_context *ctx, const inputs *in, const hparams *h, const layout *l,
                    ds_kernel_variant var, const snapshot snaps[2]) {
    const int64_t n = in->n, off = l->offset;
    char what[160];
    snprintf(what, sizeof what, "n=%lld %s mask=%d bf16=%d offset=%lld %s", (long long)n, h->name, l->mask, l->bf16,
             (long long)off, var == DS_KERNELS_FAST ? "FAST" : "PLAIN");
    ds_gpu_set_kernels(ctx, var);
    dev_buf p = dev_make(ctx, DS_F32, n, off), m = dev_make(ctx, DS_F32, n, off), v = dev_make(ctx, DS_F32, n, off),
            g = dev_make(ctx, DS_F32, n, off), mask = {0}, bf16 = {0};
    const size_t b = sizeof(float) * (size_t)n;
    ds_gpu_upload(ctx, p.t.data, in->p0, b);
    ds_gpu_upload(ctx, m.t.data, in->m0, b);
    ds_gpu_upload(ctx, v.t.data, in->v0, b);
    if (l->mask) {
        mask = dev_make(ctx, DS_U8, n, off);
        ds_gpu_upload(ctx, mask.t.data, in->mask, (size_t)n);
    }
    if (l->bf16) {
        bf16 = dev_make(ctx, DS_BF16, n, off);
        ds_gpu_memset(ctx, bf16.base, 0xff, bf16.bytes);  // NaN bits: an unwritten element cannot pass
    }
    for (int64_t s = 1; s <= STEPS; s++) {
        ds_gpu_upload(ctx, g.t.data, in->grads[s - 1], b);
        ds_adamw_args a = args_for(h, s);
        a.param = p.t, a.grad = g.t, a.m = m.t, a.v = v.t;
        if (l->mask) a.decay_mask = mask.t;
        if (l->bf16) a.param_bf16 = bf16.t;
        if (!ds_test_check(t, ds_adamw_step(ctx, &a) == DS_OK, "%s step %lld: %s", what, (long long)s, ctx->err.msg))
            break;
        // The upload of the next gradient is stream-ordered after this step: no sync needed.
        if (s == 1 || s == STEPS)
            compare(t, ctx, what, s, &p, &m, &v, l->bf16 ? &bf16 : NULL, &snaps[s == 1 ? 0 : 1], n);
    }
    ds_gpu_sync(ctx);  // the pageable gradient uploads have finished before the host frees anything
    dev_buf *all[] = {&p, &m, &v, &g, &mask, &bf16};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ds_gpu_free(ctx, all[i]->base, all[i]->bytes);
}

static void check_errors(ds_test *t, ds_context *ctx) {
    const int64_t n = 8;
    dev_buf p = dev_make(ctx, DS_F32, n, 0), g = dev_make(ctx, DS_F32, n, 0), m = dev_make(ctx, DS_F32, n, 0),
            v = dev_make(ctx, DS_F32, n, 0), mi32 = dev_make(ctx, DS_I32, n, 0);
    float host_g[8] = {0};
    ds_adamw_args good = args_for(&k_sets[0], 1);
    good.param = p.t, good.grad = g.t, good.m = m.t, good.v = v.t;
    struct {
        const char *why, *expect;
        ds_adamw_args a;
    } bad[4];
    for (int i = 0; i < 4; i++) bad[i].a = good;
    bad[0].why = "grad on the host", bad[0].expect = "adamw: grad", bad[0].a.grad = ds_tensor_cpu1(host_g, DS_F32, n);
    bad[1].why = "decay_mask in I32", bad[1].expect = "adamw: decay_mask", bad[1].a.decay_mask = mi32.t;
    bad[2].why = "v of 7 elements", bad[2].expect = "adamw: v", bad[2].a.v.shape[0] = 7;
    bad[3].why = "step 0", bad[3].expect = "step", bad[3].a.step = 0;
    for (int i = 0; i < 4; i++) {
        ds_err_clear(&ctx->err);
        const ds_status s = ds_adamw_step(ctx, &bad[i].a);
        ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, bad[i].expect) != NULL,
                      "%s: status %d, message '%s'", bad[i].why, (int)s, ctx->err.msg);
    }
    ds_err_clear(&ctx->err);
    dev_buf *all[] = {&p, &g, &m, &v, &mi32};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) ds_gpu_free(ctx, all[i]->base, all[i]->bytes);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_adamw")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_adamw");
    const char *small = getenv("DS_TEST_SMALL");
    const bool is_small = small != NULL && small[0] != '\0' && strcmp(small, "0") != 0;
    const int64_t sizes[] = {1, 1000, is_small ? (1 << 14) + 3 : (1 << 20) + 3};
    const ds_kernel_variant variants[] = {DS_KERNELS_PLAIN, DS_KERNELS_FAST};
    const int failures_before = t.failures;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        inputs in;
        make_inputs(&in, sizes[si]);
        snapshot snaps[2] = {snap_alloc(in.n), snap_alloc(in.n)};
        for (size_t hi = 0; hi < sizeof k_sets / sizeof k_sets[0]; hi++)
            for (size_t li = 0; li < sizeof k_layouts / sizeof k_layouts[0]; li++) {
                const layout *l = &k_layouts[li];
                if (!run_cpu(&t, &ctx, &in, &k_sets[hi], l, snaps)) continue;
                for (size_t vi = 0; vi < 2; vi++) run_gpu(&t, &ctx, &in, &k_sets[hi], l, variants[vi], snaps);
            }
        snap_free(&snaps[0]), snap_free(&snaps[1]);
        free_inputs(&in);
    }
    printf("cuda_adamw: sizes 1, 1000, %lld; %zu hyperparameter sets x %zu layouts x PLAIN/FAST, steps 1 and %d: %s\n",
           (long long)sizes[2], sizeof k_sets / sizeof k_sets[0], sizeof k_layouts / sizeof k_layouts[0], STEPS,
           t.failures == failures_before ? "all bit-exact" : "MISMATCHES above");
    check_errors(&t, &ctx);
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
