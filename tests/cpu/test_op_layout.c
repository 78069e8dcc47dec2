// add and permute_heads: element formulas checked directly, split/merge round trip, errors.
#include "../../kernels/ops.h"
#include "../test_util.h"

#include <math.h>
#include <string.h>

int main(void) {
    ds_test t = ds_test_begin("op_layout");
    ds_context ctx = ds_context_cpu();
    enum { B = 2, T = 7, H = 3, D = 5 };
    static float x[B * T * H * D], y[B * H * T * D], z[B * T * H * D];
    for (int i = 0; i < B * T * H * D; i++) x[i] = (float)i * 0.5f - 3.0f;

    ds_permute_heads_args split = {.x = ds_tensor_cpu3(x, DS_F32, B, T, H * D),
                                   .y = ds_tensor_cpu4(y, DS_F32, B, H, T, D), .heads = H, .to_heads = true};
    ds_test_check(&t, ds_permute_heads(&ctx, &split) == DS_OK, "split: %s", ctx.err.msg);
    int bad = 0;
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int s = 0; s < T; s++)
                for (int d = 0; d < D; d++)
                    bad += y[((b * H + h) * T + s) * D + d] != x[((b * T + s) * H + h) * D + d];
    ds_test_check(&t, bad == 0, "split: %d elements misplaced", bad);

    ds_permute_heads_args merge = {.x = split.y, .y = ds_tensor_cpu3(z, DS_F32, B, T, H * D), .heads = H,
                                   .to_heads = false};
    ds_test_check(&t, ds_permute_heads(&ctx, &merge) == DS_OK, "merge: %s", ctx.err.msg);
    ds_test_check(&t, memcmp(x, z, sizeof x) == 0, "merge(split(x)) != x");

    ds_add_args add = {.a = ds_tensor_cpu1(x, DS_F32, 10), .b = ds_tensor_cpu1(z, DS_F32, 10),
                       .y = ds_tensor_cpu1(y, DS_F32, 10)};
    ds_test_check(&t, ds_add(&ctx, &add) == DS_OK, "add: %s", ctx.err.msg);
    bad = 0;
    for (int i = 0; i < 10; i++) bad += y[i] != x[i] + z[i];
    ds_test_check(&t, bad == 0, "add: %d wrong sums", bad);

    ds_err_clear(&ctx.err);
    split.heads = 4;  // H*D no longer matches
    ds_test_check(&t, ds_permute_heads(&ctx, &split) == DS_ERR_INVALID_ARG && strstr(ctx.err.msg, "permute_heads"),
                  "bad head count accepted or message without op name: %s", ctx.err.msg);
    ds_err_clear(&ctx.err);
    add.b = ds_tensor_cpu1(z, DS_F32, 9);
    ds_test_check(&t, ds_add(&ctx, &add) == DS_ERR_INVALID_ARG, "add with unequal numel accepted");
    return ds_test_finish(&t);
}
