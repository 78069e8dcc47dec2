// spec_augment against torch (tests/fixtures/ops/spec_augment.safetensors, from
// scripts/fixtures/ops_speech.py: HF's in-place assignments hidden[mask_time] = masked_spec_embed
// and hidden[mask_feature] = 0 with autograd: time and feature masks, each alone), in place, F64
// finite differences, and the mask checks.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../op_fixture.h"

// Copies and selections are exact; dembed sums at most 27 values in double against torch's float
// sum: ~1e-7. 1e-6 is ample while a mask applied in the wrong order or a missing term is off by >= 1e-2.
#define TOL 1e-6

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    ds_tensor x = ds_op_fixture_get(t, f, k, "x", DS_F32), embed = ds_op_fixture_get(t, f, k, "embed", DS_F32);
    ds_tensor y_want = ds_op_fixture_get(t, f, k, "y", DS_F32), dy = ds_op_fixture_get(t, f, k, "dy", DS_F32);
    ds_tensor dx_want = ds_op_fixture_get(t, f, k, "dx", DS_F32);
    if (!x.data || !embed.data || !y_want.data || !dy.data || !dx_want.data) return;
    const bool has_tm = ds_op_fixture_has(f, k, "time_mask"), has_fm = ds_op_fixture_has(f, k, "feature_mask");
    ds_tensor tm = has_tm ? ds_op_fixture_get(t, f, k, "time_mask", DS_I32) : (ds_tensor){0};
    ds_tensor fm = has_fm ? ds_op_fixture_get(t, f, k, "feature_mask", DS_I32) : (ds_tensor){0};
    char what[64];
    ds_tensor y = ds_test_zeros_like(&y_want, DS_F32), dx = ds_test_zeros_like(&dx_want, DS_F32);
    ds_tensor de = ds_test_zeros_like(&embed, DS_F32);
    ds_spec_augment_fwd_args fa = {.x = x, .time_mask = tm, .feature_mask = fm, .embed = embed, .y = y};
    if (ds_test_check(t, ds_spec_augment_forward(ctx, &fa) == DS_OK, "case%d forward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d y (time %d, feature %d)", k, has_tm, has_fm);
        ds_test_close(t, what, &y, &y_want, TOL);
        // In place (y = x) gives the same.
        memcpy(y.data, x.data, ds_tensor_nbytes(&x));
        fa.x = y;
        if (ds_spec_augment_forward(ctx, &fa) == DS_OK) {
            snprintf(what, sizeof what, "case%d y in place", k);
            ds_test_close(t, what, &y, &y_want, TOL);
        }
    }
    ds_spec_augment_bwd_args ba = {.dy = dy, .time_mask = tm, .feature_mask = fm, .dx = dx, .dembed = de};
    if (ds_test_check(t, ds_spec_augment_backward(ctx, &ba) == DS_OK, "case%d backward: %s", k, ctx->err.msg)) {
        snprintf(what, sizeof what, "case%d dx", k);
        ds_test_close(t, what, &dx, &dx_want, TOL);
        if (has_tm) {
            ds_tensor de_want = ds_op_fixture_get(t, f, k, "dembed", DS_F32);
            snprintf(what, sizeof what, "case%d dembed", k);
            if (de_want.data) ds_test_close(t, what, &de, &de_want, TOL);
        }
    }
    free(y.data), free(dx.data), free(de.data);
}

enum { B = 2, T = 5, C = 4, N = B * T * C };
static const int32_t k_tm[B * T] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 1}, k_fm[B * C] = {0, 0, 1, 0, 1, 0, 0, 0};
typedef struct { ds_context *ctx; double *x, *embed, *r; } fd_case;

static double fd_loss(void *user) {
    fd_case *c = user;
    double y[N], l = 0;
    ds_spec_augment_fwd_args a = {.x = ds_tensor_cpu3(c->x, DS_F64, B, T, C), .time_mask = ds_tensor_cpu2((void *)k_tm, DS_I32, B, T),
                                  .feature_mask = ds_tensor_cpu2((void *)k_fm, DS_I32, B, C),
                                  .embed = ds_tensor_cpu1(c->embed, DS_F64, C), .y = ds_tensor_cpu3(y, DS_F64, B, T, C)};
    if (ds_spec_augment_forward(c->ctx, &a) != DS_OK) return NAN;
    for (int i = 0; i < N; i++) l += y[i] * c->r[i];
    return l;
}

int main(void) {
    ds_test t = ds_test_begin("op_spec_augment");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "spec_augment")) {
        const int cases = ds_op_fixture_cases(&f, "x");
        ds_test_check(&t, cases >= 3, "spec_augment fixture holds %d cases, expected at least 3", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    double x[N], embed[C], r[N], dx[N], de[C];
    ds_fill_uniform_f64(x, N, 61);
    ds_fill_uniform_f64(embed, C, 62);
    ds_fill_uniform_f64(r, N, 63);
    ds_spec_augment_bwd_args b = {.dy = ds_tensor_cpu3(r, DS_F64, B, T, C), .time_mask = ds_tensor_cpu2((void *)k_tm, DS_I32, B, T),
                                  .feature_mask = ds_tensor_cpu2((void *)k_fm, DS_I32, B, C),
                                  .dx = ds_tensor_cpu3(dx, DS_F64, B, T, C), .dembed = ds_tensor_cpu1(de, DS_F64, C)};
    if (ds_test_check(&t, ds_spec_augment_backward(&ctx, &b) == DS_OK, "F64 backward: %s", ctx.err.msg)) {
        fd_case c = {&ctx, x, embed, r};
        // The op is linear in x and embed: central differences are exact up to rounding (~1e-10).
        ds_gradcheck(&t, "spec_augment dx", x, dx, N, N, fd_loss, &c, 1e-6, 1e-6);
        ds_gradcheck(&t, "spec_augment dembed", embed, de, C, C, fd_loss, &c, 1e-6, 1e-6);
    }
    int32_t bad_tm[B * T] = {0, 2};
    ds_spec_augment_fwd_args bad = {.x = ds_tensor_cpu3(x, DS_F64, B, T, C), .time_mask = ds_tensor_cpu2(bad_tm, DS_I32, B, T),
                                    .embed = ds_tensor_cpu1(embed, DS_F64, C), .y = ds_tensor_cpu3(dx, DS_F64, B, T, C)};
    ds_test_error(&t, "time mask of 2", &ctx.err, ds_spec_augment_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "time_mask[1] = 2");
    bad.time_mask = ds_tensor_cpu2((void *)k_tm, DS_I32, B, T);
    bad.embed = (ds_tensor){0};
    ds_test_error(&t, "time mask without embed", &ctx.err, ds_spec_augment_forward(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "spec_augment_forward: embed");
    return ds_test_finish(&t);
}
