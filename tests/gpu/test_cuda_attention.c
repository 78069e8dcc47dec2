// CUDA attention (forward and backward) against the CPU reference op, for every variant:
// F32 PLAIN, BF16 PLAIN, BF16 FAST (flash attention), F32 FAST (must fall back to PLAIN), and
// cuDNN SDPA where the build has it (compared with FAST). Covers T = 1, 7, 128, 257, 512 (tails
// of every tile size), D = 32, 64, 128, no mask and a key padding mask (holes, one batch row
// with a single key, one batch row with no key at all: zero output, lse = -inf, zero gradients),
// dropout 0 and 0.1 (the CUDA keep decisions must equal the CPU's element for element, or the
// outputs disagree far beyond tolerance). Outputs start poisoned (NaN) so an unwritten element
// fails; two runs must be bit-identical (no atomics anywhere).
//
// Backward is checked in isolation: both backends get the CPU forward's out (rounded to bf16
// for the BF16 paths, which is what they read) and lse.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gpu_test_util.h"

#define B_ 3
#define H_ 2

// Tolerances (tensor-relative: max|got - want| / max|want|, ds_test_close):
// F32: same inputs, fp32 math on both sides, and the PLAIN kernels sum p'v, dq, dk, dv in the
// CPU's index order; what differs is the association of the row sums (max/exp-sum and
// D_i = dO.out are tree reductions on CUDA, sequential on the CPU): a few ulp of fp32 on terms
// of size ~1, so 2e-5 leaves margin over the ~1e-6 expected.
#define TOL_F32 2e-5
// BF16: outputs are stored in bf16 (relative rounding 2^-9 ~ 2e-3, up to 4e-3 of the tensor
// max); FAST additionally rounds P (forward) and dS, P' (backward) to bf16 before the tensor-core
// products, adding ~2e-3 per term, partly averaging out over the sum. 1e-2 for out; 2e-2 for the
// gradients, which pass through two such roundings (dS and the stored result) and the
// cancellation in dp - D_i.
#define TOL_BF16_OUT 1e-2
#define TOL_BF16_GRAD 2e-2
// lse is fp32 on every path and never touches a bf16 rounding of P: absolute error of a few ulp
// of fp32 on values of size log(T) + max score (< 10 here): 1e-4 absolute is ample.
#define TOL_LSE 1e-4

typedef struct attn_case {
    int64_t T, D;
    bool mask;
    float p;
} attn_case;

typedef enum variant { V_F32_PLAIN, V_BF16_PLAIN, V_BF16_FAST, V_F32_FAST, V_COUNT } variant;
static const char *const k_variant_name[V_COUNT] = {"F32 PLAIN", "BF16 PLAIN", "BF16 FAST", "F32 FAST (falls back)"};

// Key padding mask (B, T): batch row 0 has holes (every 5th key from j = 3 masked, so the mask
// is not only right padding), row 1 attends to key 0 only, row 2 to no key (fully masked).
static ds_tensor make_mask(int64_t T) {
    const int64_t shape[2] = {B_, T};
    ds_tensor m = ds_tensor_make(calloc((size_t)(B_ * T), sizeof(int32_t)), DS_I32,
                                 (ds_device){DS_DEVICE_CPU, 0}, 2, shape);
    int32_t *p = m.data;
    for (int64_t j = 0; j < T; j++) {
        p[0 * T + j] = (j % 5 == 3) ? 0 : 1;
        p[1 * T + j] = j == 0;
        p[2 * T + j] = 0;
    }
    return m;
}

// lse: -inf where the reference is -inf (exactly), else within TOL_LSE absolute.
static void check_lse(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want) {
    const float *g = got->data, *w = want->data;
    const int64_t n = ds_tensor_numel(want);
    int64_t bad = -1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isinf(w[i])) {
            if (!(isinf(g[i]) && g[i] < 0)) bad = i;
            continue;
        }
        const double e = fabs((double)g[i] - (double)w[i]);
        if (!(e <= TOL_LSE)) bad = i;  // NaN fails too
        if (e > worst) worst = e;
    }
    ds_test_check(t, bad < 0, "%s: lse[%lld] is %g, want %g (max abs err %.3g, tol %g)", what, (long long)bad,
                  bad >= 0 ? (double)g[bad] : 0.0, bad >= 0 ? (double)w[bad] : 0.0, worst, TOL_LSE);
}

// The reference: CPU forward and backward on the (already bf16-rounded where needed) inputs.
typedef struct reference {
    ds_tensor out, lse, out_in;  // out_in: the out given to backward (bf16-rounded for BF16 paths)
    ds_tensor dq, dk, dv;
} reference;

typedef struct inputs {
    ds_tensor q, k, v, dout, mask;  // host F32 / I32; mask.data NULL when absent
} inputs;

static void reference_run(ds_context *ctx, ds_test *t, const inputs *in, const attn_case *c, bool bf16,
                          reference *r) {
    const int64_t shape4[4] = {B_, H_, c->T, c->D}, shape3[3] = {B_, H_, c->T};
    r->out = ds_gpu_test_host_zeros(4, shape4);
    r->lse = ds_gpu_test_host_zeros(3, shape3);
    r->dq = ds_gpu_test_host_zeros(4, shape4);
    r->dk = ds_gpu_test_host_zeros(4, shape4);
    r->dv = ds_gpu_test_host_zeros(4, shape4);
    const double scale = 1.0 / sqrt((double)c->D);
    ds_attention_fwd_args f = {in->q, in->k, in->v, in->mask, r->out, r->lse, scale, c->p, 1234, 0};
    ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "cpu forward: %s", ctx->err.msg);
    r->out_in = ds_gpu_test_host_zeros(4, shape4);
    memcpy(r->out_in.data, r->out.data, ds_tensor_nbytes(&r->out));
    if (bf16) ds_gpu_test_round_bf16(&r->out_in);
    ds_attention_bwd_args b = {in->q,   in->k,   in->v,    in->mask, r->out_in, r->lse,
                               in->dout, r->dq, r->dk,    r->dv,    scale,     c->p, 1234, 0};
    ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "cpu backward: %s", ctx->err.msg);
}

static void reference_free(reference *r) {
    free(r->out.data);
    free(r->lse.data);
    free(r->out_in.data);
    free(r->dq.data);
    free(r->dk.data);
    free(r->dv.data);
}

// Results of one CUDA run, downloaded to host F32.
typedef struct gpu_result {
    ds_tensor out, lse, dq, dk, dv;
    bool ok;
} gpu_result;

static void gpu_result_free(gpu_result *g) {
    free(g->out.data);
    free(g->lse.data);
    free(g->dq.data);
    free(g->dk.data);
    free(g->dv.data);
}

// Runs forward and backward on the device with outputs poisoned; backward reads the reference's
// out_in and lse (so it is checked on its own).
static gpu_result gpu_run(ds_context *ctx, ds_test *t, const char *what, const inputs *in, const attn_case *c,
                          ds_dtype dt, const reference *r) {
    gpu_result g;
    memset(&g, 0, sizeof g);
    ds_tensor q = ds_gpu_test_upload(ctx, &in->q, dt), k = ds_gpu_test_upload(ctx, &in->k, dt);
    ds_tensor v = ds_gpu_test_upload(ctx, &in->v, dt), dout = ds_gpu_test_upload(ctx, &in->dout, dt);
    ds_tensor out_in = ds_gpu_test_upload(ctx, &r->out_in, dt), lse_in = ds_gpu_test_upload(ctx, &r->lse, DS_F32);
    ds_tensor mask = in->mask;
    if (in->mask.data) mask = ds_gpu_test_upload(ctx, &in->mask, DS_I32);
    ds_tensor out = ds_gpu_test_poisoned(ctx, &in->q, dt), lse = ds_gpu_test_poisoned(ctx, &r->lse, DS_F32);
    ds_tensor dq = ds_gpu_test_poisoned(ctx, &in->q, dt), dk = ds_gpu_test_poisoned(ctx, &in->q, dt);
    ds_tensor dv = ds_gpu_test_poisoned(ctx, &in->q, dt);
    const double scale = 1.0 / sqrt((double)c->D);

    ds_attention_fwd_args f = {q, k, v, mask, out, lse, scale, c->p, 1234, 0};
    ds_status s1 = ds_attention_forward(ctx, &f);
    ds_test_check(t, s1 == DS_OK, "%s: cuda forward: %s", what, ctx->err.msg);
    ds_attention_bwd_args b = {q, k, v, mask, out_in, lse_in, dout, dq, dk, dv, scale, c->p, 1234, 0};
    ds_status s2 = s1 == DS_OK ? ds_attention_backward(ctx, &b) : s1;
    ds_test_check(t, s2 == DS_OK, "%s: cuda backward: %s", what, ctx->err.msg);
    g.ok = s1 == DS_OK && s2 == DS_OK;
    g.out = ds_gpu_test_download(ctx, &out);
    g.lse = ds_gpu_test_download(ctx, &lse);
    g.dq = ds_gpu_test_download(ctx, &dq);
    g.dk = ds_gpu_test_download(ctx, &dk);
    g.dv = ds_gpu_test_download(ctx, &dv);

    ds_tensor *dev[] = {&q, &k, &v, &dout, &out_in, &lse_in, &out, &lse, &dq, &dk, &dv};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) ds_gpu_test_free(ctx, dev[i]);
    if (in->mask.data) ds_gpu_test_free(ctx, &mask);
    return g;
}

// ds_test_close, except where the reference is zero up to rounding throughout (T = 1: a softmax
// over one key has no gradient, dq = dk = 0 in exact arithmetic, and the CPU's dp - D_i cancels
// to 0 or a few ulp): below 1e-5 (real gradients here are >= 1e-2) a relative error means
// nothing, so the result must be zero up to the same kind of noise, |got| <= 1e-4 (a few ulp of
// dp and D_i, values of size up to ~D/2, times scale |k| <= 0.3).
static void close_or_zero(ds_test *t, const char *what, const ds_tensor *got, const ds_tensor *want, double tol) {
    const float *g = got->data, *w = want->data;
    const int64_t n = ds_tensor_numel(want);
    double wmax = 0, gmax = 0;
    bool nan = false;
    for (int64_t i = 0; i < n; i++) {
        if (fabs((double)w[i]) > wmax) wmax = fabs((double)w[i]);
        if (fabs((double)g[i]) > gmax) gmax = fabs((double)g[i]);
        if (isnan(g[i])) nan = true;  // an unwritten (poisoned) element
    }
    if (wmax > 1e-5) {
        ds_test_close(t, what, got, want, tol);
        return;
    }
    ds_test_check(t, !nan && gmax <= 1e-4, "%s: reference is zero, got max |x| = %g%s (tol 1e-4)", what, gmax,
                  nan ? " and NaN" : "");
}

static void compare(ds_test *t, const char *what, const gpu_result *g, const reference *r, bool bf16) {
    char w[256];
    snprintf(w, sizeof w, "%s out", what);
    ds_test_close(t, w, &g->out, &r->out, bf16 ? TOL_BF16_OUT : TOL_F32);
    snprintf(w, sizeof w, "%s", what);
    check_lse(t, w, &g->lse, &r->lse);
    const double tg = bf16 ? TOL_BF16_GRAD : TOL_F32;
    snprintf(w, sizeof w, "%s dq", what);
    close_or_zero(t, w, &g->dq, &r->dq, tg);
    snprintf(w, sizeof w, "%s dk", what);
    close_or_zero(t, w, &g->dk, &r->dk, tg);
    snprintf(w, sizeof w, "%s dv", what);
    close_or_zero(t, w, &g->dv, &r->dv, tg);
}

// Key padding mask (B, T) that is right padding: row lengths T, 1 and (T+1)/2.
static ds_tensor make_right_padded_mask(int64_t T) {
    const int64_t shape[2] = {B_, T};
    ds_tensor m = ds_tensor_make(calloc((size_t)(B_ * T), sizeof(int32_t)), DS_I32,
                                 (ds_device){DS_DEVICE_CPU, 0}, 2, shape);
    int32_t *p = m.data;
    const int64_t len[B_] = {T, 1, (T + 1) / 2};
    for (int64_t b = 0; b < B_; b++)
        for (int64_t j = 0; j < T; j++) p[b * T + j] = j < len[b];
    return m;
}

// FAST and cuDNN forward on the same inputs and mask, then both backwards on FAST's out and lse.
// A DS_ERR_UNSUPPORTED answer from cuDNN (no cuDNN in the build, or the SDPA graph not supported
// on this GPU/version) is reported as skipped, never as passed.
static void cross_check_cudnn(ds_context *ctx, ds_test *t, const attn_case *c, const inputs *in16,
                              const ds_tensor *mask_host) {
    char what[160];
    snprintf(what, sizeof what, "cuDNN vs FAST T=%lld D=%lld mask=%s", (long long)c->T, (long long)c->D,
             mask_host->data ? "right-padded" : "none");
    const double scale = 1.0 / sqrt((double)c->D);
    ds_tensor q = ds_gpu_test_upload(ctx, &in16->q, DS_BF16), k = ds_gpu_test_upload(ctx, &in16->k, DS_BF16);
    ds_tensor v = ds_gpu_test_upload(ctx, &in16->v, DS_BF16), dout = ds_gpu_test_upload(ctx, &in16->dout, DS_BF16);
    ds_tensor mask = *mask_host;
    if (mask_host->data) mask = ds_gpu_test_upload(ctx, mask_host, DS_I32);
    const ds_tensor lse_like = ds_tensor_make(NULL, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, 3, in16->q.shape);  // (B, H, T)
    ds_tensor out[2], lse[2], dq[2], dk[2], dv[2];  // [0] FAST, [1] cuDNN
    for (int i = 0; i < 2; i++) {
        out[i] = ds_gpu_test_poisoned(ctx, &in16->q, DS_BF16);
        lse[i] = ds_gpu_test_poisoned(ctx, &lse_like, DS_F32);
        dq[i] = ds_gpu_test_poisoned(ctx, &in16->q, DS_BF16);
        dk[i] = ds_gpu_test_poisoned(ctx, &in16->q, DS_BF16);
        dv[i] = ds_gpu_test_poisoned(ctx, &in16->q, DS_BF16);
    }
    bool ok[2][2] = {{false, false}, {false, false}};  // [impl][fwd, bwd]
    for (int i = 0; i < 2; i++) {
        ds_gpu_set_kernels(ctx, DS_KERNELS_FAST);
        ds_gpu_set_attention(ctx, i == 0 ? DS_ATTENTION_OWN : DS_ATTENTION_CUDNN);
        ds_attention_fwd_args f = {q, k, v, mask, out[i], lse[i], scale, 0.0f, 0, 0};
        const uint64_t fwd_fallbacks = ds_gpu_attention_cudnn_fallbacks(ctx);
        ds_status st = ds_attention_forward(ctx, &f);
        if (i == 1 && st == DS_OK && ds_gpu_attention_cudnn_fallbacks(ctx) != fwd_fallbacks)
            printf("%s forward: cuDNN: skipped (refused; the own forward ran instead)\n", what);
        if (i == 1 && st == DS_ERR_UNSUPPORTED) {
            printf("%s forward: skipped: %s\n", what, ctx->err.msg);
        } else {
            ds_test_check(t, st == DS_OK, "%s: %s forward: %s", what, i ? "cudnn" : "fast", ctx->err.msg);
            ok[i][0] = st == DS_OK;
        }
        if (!ok[0][0]) break;
        // Both backwards read FAST's forward results.
        ds_attention_bwd_args b = {q, k, v, mask, out[0], lse[0], dout, dq[i], dk[i], dv[i], scale, 0.0f, 0, 0};
        const uint64_t fallbacks = ds_gpu_attention_cudnn_fallbacks(ctx);
        st = ds_attention_backward(ctx, &b);
        if (i == 1 && st == DS_OK && ds_gpu_attention_cudnn_fallbacks(ctx) != fallbacks) {
            // cuDNN refused the backward and the own kernels ran it: still compared below (the
            // fallback must be right), but it is no cuDNN check.
            printf("%s backward: cuDNN: skipped (no engine; the own backward ran instead)\n", what);
        }
        if (i == 1 && st == DS_ERR_UNSUPPORTED) {
            printf("%s backward: skipped: %s\n", what, ctx->err.msg);
        } else {
            ds_test_check(t, st == DS_OK, "%s: %s backward: %s", what, i ? "cudnn" : "fast", ctx->err.msg);
            ok[i][1] = st == DS_OK;
        }
    }
    ds_gpu_set_attention(ctx, DS_ATTENTION_OWN);
    // Both sides round P (and dS) to bf16 in their own places: twice the bf16 tolerances.
    char w[220];
    if (ok[0][0] && ok[1][0]) {
        ds_tensor a0 = ds_gpu_test_download(ctx, &out[0]), a1 = ds_gpu_test_download(ctx, &out[1]);
        ds_tensor l0 = ds_gpu_test_download(ctx, &lse[0]), l1 = ds_gpu_test_download(ctx, &lse[1]);
        snprintf(w, sizeof w, "%s out", what);
        ds_test_close(t, w, &a1, &a0, 2 * TOL_BF16_OUT);
        check_lse(t, what, &l1, &l0);
        free(a0.data), free(a1.data), free(l0.data), free(l1.data);
    }
    if (ok[0][1] && ok[1][1]) {
        ds_tensor *g[3][2] = {{&dq[0], &dq[1]}, {&dk[0], &dk[1]}, {&dv[0], &dv[1]}};
        const char *names[3] = {"dq", "dk", "dv"};
        for (int n = 0; n < 3; n++) {
            ds_tensor h0 = ds_gpu_test_download(ctx, g[n][0]), h1 = ds_gpu_test_download(ctx, g[n][1]);
            snprintf(w, sizeof w, "%s %s", what, names[n]);
            close_or_zero(t, w, &h1, &h0, 2 * TOL_BF16_GRAD);
            free(h0.data), free(h1.data);
        }
    }
    for (int i = 0; i < 2; i++) {
        ds_tensor *dev[] = {&out[i], &lse[i], &dq[i], &dk[i], &dv[i]};
        for (size_t n = 0; n < sizeof dev / sizeof dev[0]; n++) ds_gpu_test_free(ctx, dev[n]);
    }
    ds_tensor *in_dev[] = {&q, &k, &v, &dout};
    for (size_t n = 0; n < sizeof in_dev / sizeof in_dev[0]; n++) ds_gpu_test_free(ctx, in_dev[n]);
    if (mask_host->data) ds_gpu_test_free(ctx, &mask);
}

// Every output of two runs (both passes) has the same bits.
static bool same_result(const gpu_result *a, const gpu_result *b) {
    return ds_gpu_test_same_bits(&a->out, &b->out) && ds_gpu_test_same_bits(&a->lse, &b->lse) &&
           ds_gpu_test_same_bits(&a->dq, &b->dq) && ds_gpu_test_same_bits(&a->dk, &b->dk) &&
           ds_gpu_test_same_bits(&a->dv, &b->dv);
}

static void run_case(ds_context *ctx, ds_test *t, const attn_case *c, uint64_t seed) {
    const int64_t shape4[4] = {B_, H_, c->T, c->D};
    inputs in;
    in.q = ds_gpu_test_random(4, shape4, seed + 1, -1.5f, 1.5f);
    in.k = ds_gpu_test_random(4, shape4, seed + 2, -1.5f, 1.5f);
    in.v = ds_gpu_test_random(4, shape4, seed + 3, -1.0f, 1.0f);
    in.dout = ds_gpu_test_random(4, shape4, seed + 4, -1.0f, 1.0f);
    in.mask = c->mask ? make_mask(c->T) : ds_tensor_make(NULL, DS_I32, (ds_device){DS_DEVICE_CPU, 0}, 0, NULL);

    // F32 reference on the F32 inputs, then the inputs rounded to bf16 for the BF16 reference.
    reference ref32, ref16;
    reference_run(ctx, t, &in, c, false, &ref32);
    inputs in16 = in;
    const int64_t n = ds_tensor_numel(&in.q);
    ds_tensor *src[] = {&in.q, &in.k, &in.v, &in.dout};
    ds_tensor *dst[] = {&in16.q, &in16.k, &in16.v, &in16.dout};
    for (int i = 0; i < 4; i++) {
        *dst[i] = ds_gpu_test_host_zeros(4, shape4);
        memcpy(dst[i]->data, src[i]->data, sizeof(float) * (size_t)n);
        ds_gpu_test_round_bf16(dst[i]);
    }
    reference_run(ctx, t, &in16, c, true, &ref16);

    for (int vi = 0; vi < V_COUNT; vi++) {
        const bool bf16 = vi == V_BF16_PLAIN || vi == V_BF16_FAST;
        ds_gpu_set_kernels(ctx, (vi == V_BF16_FAST || vi == V_F32_FAST) ? DS_KERNELS_FAST : DS_KERNELS_PLAIN);
        char what[160];
        snprintf(what, sizeof what, "%s T=%lld D=%lld mask=%d p=%.1f", k_variant_name[vi], (long long)c->T,
                 (long long)c->D, (int)c->mask, (double)c->p);
        const inputs *use = bf16 ? &in16 : &in;
        const reference *r = bf16 ? &ref16 : &ref32;
        gpu_result g1 = gpu_run(ctx, t, what, use, c, bf16 ? DS_BF16 : DS_F32, r);
        if (g1.ok) compare(t, what, &g1, r, bf16);
        // Determinism: a second run is bit-identical (every output, both passes).
        gpu_result g2 = gpu_run(ctx, t, what, use, c, bf16 ? DS_BF16 : DS_F32, r);
        if (g1.ok && g2.ok)
            ds_test_check(t, same_result(&g1, &g2), "%s: two runs differ", what);
        gpu_result_free(&g2);
        // run.attention=cudnn with dropout (BERT's training case): cuDNN refuses it, and the own
        // kernels must run both passes instead (the same bits as FAST) rather than stop.
        if (c->p > 0.0f && vi == V_BF16_FAST && g1.ok) {
            ds_gpu_set_attention(ctx, DS_ATTENTION_CUDNN);
            const uint64_t fallbacks = ds_gpu_attention_cudnn_fallbacks(ctx);
            gpu_result g3 = gpu_run(ctx, t, what, use, c, DS_BF16, r);
            ds_gpu_set_attention(ctx, DS_ATTENTION_OWN);
            ds_test_check(t, g3.ok && ds_gpu_attention_cudnn_fallbacks(ctx) - fallbacks == 2,
                          "%s: under run.attention=cudnn, dropout must fall back to the own kernels in forward and "
                          "backward (%llu fallbacks)", what,
                          (unsigned long long)(ds_gpu_attention_cudnn_fallbacks(ctx) - fallbacks));
            if (g3.ok)
                ds_test_check(t, same_result(&g1, &g3), "%s: the cuDNN fallback differs from FAST", what);
            gpu_result_free(&g3);
        }
        gpu_result_free(&g1);
    }

    // cuDNN SDPA against FAST on the same bf16 inputs. cuDNN draws its own dropout stream and
    // takes right-padded key masks only, so: dropout-free cases, without a mask, or (mask cases)
    // with a right-padded mask of lengths T, 1, (T+1)/2.
    if (c->p == 0.0f) {
        if (c->mask) {
            ds_tensor rp = make_right_padded_mask(c->T);
            cross_check_cudnn(ctx, t, c, &in16, &rp);
            free(rp.data);
        } else {
            cross_check_cudnn(ctx, t, c, &in16, &in16.mask);
        }
    }

    reference_free(&ref32);
    reference_free(&ref16);
    for (int i = 0; i < 4; i++) {
        free(src[i]->data);
        free(dst[i]->data);
    }
    free(in.mask.data);
}

// A bad argument is reported (naming the op) and nothing runs.
static void check_errors(ds_context *ctx, ds_test *t) {
    const int64_t shape4[4] = {1, 1, 4, 32}, shape3[3] = {1, 1, 4};
    ds_tensor hq = ds_gpu_test_random(4, shape4, 9, -1, 1);
    ds_tensor h3 = ds_gpu_test_host_zeros(3, shape3);
    ds_tensor q = ds_gpu_test_upload(ctx, &hq, DS_F32);
    ds_tensor out = ds_gpu_test_poisoned(ctx, &hq, DS_F32);
    ds_tensor lse_bf16 = ds_gpu_test_poisoned(ctx, &h3, DS_BF16);
    ds_tensor none = ds_tensor_make(NULL, DS_I32, (ds_device){DS_DEVICE_CUDA, 0}, 0, NULL);
    ds_attention_fwd_args f = {q, q, q, none, out, lse_bf16, 0.5, 0.0f, 0, 0};
    ds_status st = ds_attention_forward(ctx, &f);
    ds_test_check(t, st == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "attention_forward: lse") != NULL,
                  "BF16 lse must be refused naming the op, got status %d: %s", (int)st, ctx->err.msg);
    ds_gpu_test_free(ctx, &q);
    ds_gpu_test_free(ctx, &out);
    ds_gpu_test_free(ctx, &lse_bf16);
    free(hq.data);
    free(h3.data);
}

int main(void) {
    ds_context ctx = ds_context_cpu();
    if (!ds_gpu_test_open(&ctx, "cuda_attention")) return DS_TEST_SKIP;
    ds_test t = ds_test_begin("cuda_attention");
    ctx.seed = 0x5eed5eedull;
    check_errors(&ctx, &t);
    const int64_t Ts[] = {1, 7, 128, 257, 512}, Ds[] = {32, 64, 128};
    uint64_t seed = 100;
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++)
        for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++)
            for (int m = 0; m < 2; m++)
                for (int pi = 0; pi < 2; pi++) {
                    const attn_case c = {Ts[ti], Ds[di], m == 1, pi ? 0.1f : 0.0f};
                    run_case(&ctx, &t, &c, seed);
                    seed += 10;
                }
    ds_gpu_close(&ctx);
    return ds_test_finish(&t);
}
