// Finite-difference checks in double precision (tests/gradcheck.h) of attention's backward with
// respect to q, k and v, with a key padding mask (one batch element partly padded, one fully
// padded), without and with dropout on the probabilities; and of dropout's backward. With the
// counter-based mask fixed by (seed, offset), the function is smooth in its inputs, so central
// differences apply with dropout on as well.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../test_util.h"

enum { B = 3, H = 2, T = 5, D = 3, NQ = B * H * T * D };

typedef struct attn_problem {
    ds_context *ctx;
    double q[NQ], k[NQ], v[NQ], r[NQ];  // (B, H, T, D); r weighs the loss L = sum(out * r)
    double out[NQ], lse[B * H * T];
    int32_t mask[B * T];
    double scale;
    float p;
    uint64_t offset;
} attn_problem;

static ds_attention_fwd_args fwd_args(attn_problem *a) {
    ds_attention_fwd_args f = {
        .q = ds_tensor_cpu4(a->q, DS_F64, B, H, T, D),
        .k = ds_tensor_cpu4(a->k, DS_F64, B, H, T, D),
        .v = ds_tensor_cpu4(a->v, DS_F64, B, H, T, D),
        .key_mask = ds_tensor_cpu2(a->mask, DS_I32, B, T),
        .out = ds_tensor_cpu4(a->out, DS_F64, B, H, T, D),
        .lse = ds_tensor_cpu3(a->lse, DS_F64, B, H, T),
        .scale = a->scale,
        .dropout_p = a->p,
        .dropout_offset = a->offset,
    };
    return f;
}

static double attn_loss(void *user) {
    attn_problem *a = user;
    ds_attention_fwd_args f = fwd_args(a);
    if (ds_attention_forward(a->ctx, &f) != DS_OK) return NAN;
    double l = 0;
    for (int i = 0; i < NQ; i++) l += a->out[i] * a->r[i];
    return l;
}

static void check_attention(ds_test *t, ds_context *ctx, float p) {
    attn_problem *a = calloc(1, sizeof *a);
    a->ctx = ctx;
    ds_fill_uniform_f64(a->q, NQ, 11);
    ds_fill_uniform_f64(a->k, NQ, 12);
    ds_fill_uniform_f64(a->v, NQ, 13);
    ds_fill_uniform_f64(a->r, NQ, 14);
    for (int i = 0; i < NQ; i++) a->q[i] *= 2, a->k[i] *= 2;  // scores of a few units: peaked softmax rows
    const int lengths[B] = {5, 3, 0};                         // full, padded, fully padded
    for (int b = 0; b < B; b++)
        for (int j = 0; j < T; j++) a->mask[b * T + j] = j < lengths[b];
    a->scale = 0.7;
    a->p = p;
    a->offset = 0x300000007ull;

    ds_attention_fwd_args f = fwd_args(a);
    ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "forward: %s", ctx->err.msg);
    double *dq = calloc(NQ, sizeof(double)), *dk = calloc(NQ, sizeof(double)), *dv = calloc(NQ, sizeof(double));
    ds_attention_bwd_args b = {
        .q = f.q, .k = f.k, .v = f.v, .key_mask = f.key_mask, .out = f.out, .lse = f.lse,
        .dout = ds_tensor_cpu4(a->r, DS_F64, B, H, T, D),
        .dq = ds_tensor_cpu4(dq, DS_F64, B, H, T, D),
        .dk = ds_tensor_cpu4(dk, DS_F64, B, H, T, D),
        .dv = ds_tensor_cpu4(dv, DS_F64, B, H, T, D),
        .scale = a->scale, .dropout_p = p, .dropout_offset = a->offset,
    };
    ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "backward: %s", ctx->err.msg);

    // h = 1e-6 and tol = 1e-6 of max(1, max|grad|): see tests/gradcheck.h. Every element probed.
    char what[64];
    snprintf(what, sizeof what, "attention dq (p=%g)", (double)p);
    ds_gradcheck(t, what, a->q, dq, NQ, NQ, attn_loss, a, 1e-6, 1e-6);
    snprintf(what, sizeof what, "attention dk (p=%g)", (double)p);
    ds_gradcheck(t, what, a->k, dk, NQ, NQ, attn_loss, a, 1e-6, 1e-6);
    snprintf(what, sizeof what, "attention dv (p=%g)", (double)p);
    ds_gradcheck(t, what, a->v, dv, NQ, NQ, attn_loss, a, 1e-6, 1e-6);

    // The fully padded batch element: zero output, lse = -inf, zero gradients; padded keys get
    // zero dk and dv.
    int bad = 0;
    for (int i = 2 * H * T * D; i < NQ; i++) bad += a->out[i] != 0 || dq[i] != 0 || dk[i] != 0 || dv[i] != 0;
    for (int i = 2 * H * T; i < B * H * T; i++) bad += !(isinf(a->lse[i]) && a->lse[i] < 0);
    for (int h = 0; h < H; h++)
        for (int j = 3; j < T; j++)
            for (int d = 0; d < D; d++) {
                const int i = ((1 * H + h) * T + j) * D + d;
                bad += dk[i] != 0 || dv[i] != 0;
            }
    ds_test_check(t, bad == 0, "p=%g: %d nonzero values where padding must give zeros (or lse != -inf)",
                  (double)p, bad);
    if (p > 0) {
        // Dropout must change the output: compare with the same problem at p = 0.
        double *with = malloc(sizeof a->out);
        memcpy(with, a->out, sizeof a->out);
        a->p = 0;
        attn_loss(a);
        int differ = 0;
        for (int i = 0; i < NQ; i++) differ += with[i] != a->out[i];
        ds_test_check(t, differ > NQ / 4, "dropout p=%g changed only %d of %d outputs", (double)p, differ, NQ);
        free(with);
    }
    free(dq), free(dk), free(dv), free(a);
}

typedef struct drop_problem {
    ds_context *ctx;
    double x[257], y[257], r[257];
} drop_problem;

static double drop_loss(void *user) {
    drop_problem *d = user;
    ds_dropout_fwd_args f = {ds_tensor_cpu1(d->x, DS_F64, 257), ds_tensor_cpu1(d->y, DS_F64, 257), 0.4f, 77};
    if (ds_dropout_forward(d->ctx, &f) != DS_OK) return NAN;
    double l = 0;
    for (int i = 0; i < 257; i++) l += d->y[i] * d->r[i];
    return l;
}

static void check_dropout(ds_test *t, ds_context *ctx) {
    drop_problem d = {.ctx = ctx};
    ds_fill_uniform_f64(d.x, 257, 21);
    ds_fill_uniform_f64(d.r, 257, 22);
    double dx[257];
    ds_dropout_bwd_args b = {ds_tensor_cpu1(d.r, DS_F64, 257), ds_tensor_cpu1(dx, DS_F64, 257), 0.4f, 77};
    ds_test_check(t, ds_dropout_backward(ctx, &b) == DS_OK, "dropout backward: %s", ctx->err.msg);
    ds_gradcheck(t, "dropout dx (p=0.4)", d.x, dx, 257, 257, drop_loss, &d, 1e-6, 1e-6);
}

int main(void) {
    ds_test t = ds_test_begin("gradcheck_attention");
    ds_context ctx = ds_context_cpu();
    ctx.seed = 0xfeedfacecafebeefull;
    check_attention(&t, &ctx, 0.0f);
    check_attention(&t, &ctx, 0.3f);
    check_dropout(&t, &ctx);
    return ds_test_finish(&t);
}
