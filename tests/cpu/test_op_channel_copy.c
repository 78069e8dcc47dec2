// channel_copy as torch.cat along channels and its backward (tests/fixtures/ops/channel_copy.safetensors,
// from scripts/fixtures/ops_vision.py), accumulate, and range errors.
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../op_fixture.h"

static void run_case(ds_test *t, ds_context *ctx, const ds_op_fixture *f, int k) {
    const ds_tensor cat_want = ds_op_fixture_get(t, f, k, "cat", DS_F32), dcat = ds_op_fixture_get(t, f, k, "dcat", DS_F32);
    if (!cat_want.data || !dcat.data) return;
    ds_tensor cat = ds_test_zeros_like(&cat_want, DS_F32);
    char name[32], what[64];
    int64_t c0 = 0;
    for (int j = 0; j < 3; j++) {
        snprintf(name, sizeof name, "part%d", j);
        const ds_tensor part = ds_op_fixture_get(t, f, k, name, DS_F32);
        snprintf(name, sizeof name, "dpart%d", j);
        const ds_tensor dpart_want = ds_op_fixture_get(t, f, k, name, DS_F32);
        if (!part.data || !dpart_want.data) return;
        const int64_t c = part.shape[1];
        ds_channel_copy_args in = {.src = part, .dst = cat, .dst_c0 = c0, .channels = c};
        ds_tensor dpart = ds_test_zeros_like(&dpart_want, DS_F32);
        ds_channel_copy_args out = {.src = dcat, .dst = dpart, .src_c0 = c0, .channels = c};
        ds_test_check(t, ds_channel_copy(ctx, &in) == DS_OK && ds_channel_copy(ctx, &out) == DS_OK, "case%d part%d: %s",
                      k, j, ctx->err.msg);
        snprintf(what, sizeof what, "case%d dpart%d", k, j);
        ds_test_close(t, what, &dpart, &dpart_want, 0.0);
        // accumulate: a second copy doubles the slice.
        out.accumulate = true;
        ds_tensor twice = ds_test_scaled_copy(&dpart_want, 2);
        ds_test_check(t, ds_channel_copy(ctx, &out) == DS_OK, "case%d accumulate: %s", k, ctx->err.msg);
        snprintf(what, sizeof what, "case%d dpart%d accumulated", k, j);
        ds_test_close(t, what, &dpart, &twice, 0.0);
        free(dpart.data), free(twice.data);
        c0 += c;
    }
    snprintf(what, sizeof what, "case%d cat", k);
    ds_test_close(t, what, &cat, &cat_want, 0.0);
    free(cat.data);
}

int main(void) {
    ds_test t = ds_test_begin("op_channel_copy");
    ds_context ctx = ds_context_cpu();
    ds_op_fixture f;
    if (ds_op_fixture_open(&t, &f, "channel_copy")) {
        const int cases = ds_op_fixture_cases(&f, "cat");
        ds_test_check(&t, cases >= 2, "channel_copy fixture holds %d cases, expected at least 2", cases);
        for (int k = 0; k < cases; k++) run_case(&t, &ctx, &f, k);
        ds_op_fixture_close(&f);
    }
    float a[2 * 3 * 4], b[2 * 5 * 4];
    ds_channel_copy_args bad = {.src = ds_tensor_cpu4(a, DS_F32, 2, 3, 2, 2), .dst = ds_tensor_cpu4(b, DS_F32, 2, 5, 2, 2),
                                .dst_c0 = 3, .channels = 3};
    ds_test_error(&t, "a slice past the end of dst", &ctx.err, ds_channel_copy(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "out of range");
    bad.dst_c0 = 0;
    bad.dst = ds_tensor_cpu4(b, DS_F32, 2, 5, 1, 4);
    ds_test_error(&t, "dst of another spatial size", &ctx.err, ds_channel_copy(&ctx, &bad), DS_ERR_INVALID_ARG,
                  "channel_copy: dst");
    return ds_test_finish(&t);
}
