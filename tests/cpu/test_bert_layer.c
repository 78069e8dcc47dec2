// One BERT encoder layer against transformers' BertLayer (tests/fixtures/models/bert_layer,
// written by scripts/fixtures/bert_layer.py): output, input gradient and all 16 parameter
// gradients on a padded batch of unequal lengths; then the same with a measuring arena, to
// check that the memory plan covers the real run exactly.
#include <stdlib.h>
#include <string.h>

#include "../../models/bert/bert_layer.h"
#include "../../runtime/base/check.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

// fp32 through ~10 chained ops (three GEMM chains of K <= 37, two LayerNorms, softmax, GELU):
// each contributes rounding near 1e-7 relative, and LayerNorm's division by a small standard
// deviation amplifies it; 1e-5 tensor-relative leaves margin for that while any wrong term
// (a missing residual, a transposed weight, a wrong mask) errs by 1e-1 or more.
#define TOL 1e-5

static ds_status load_into(const ds_st_file *f, const char *name, const ds_tensor *dst, ds_err *err) {
    ds_tensor src;
    DS_TRY(ds_st_view(f, name, DS_F32, &src, err));
    if (ds_tensor_numel(&src) != ds_tensor_numel(dst))
        return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: numel differs", name);
    memcpy(dst->data, src.data, ds_tensor_nbytes(&src));
    return DS_OK;
}

int main(void) {
    ds_test t = ds_test_begin("bert_layer");
    ds_context ctx = ds_context_cpu();
    char path[512];
    ds_st_file f;
    if (!ds_test_check(&t, ds_st_open(ds_test_fixture("models/bert_layer.safetensors", path, sizeof path), &f,
                                      &ctx.err) == DS_OK, "open fixture: %s", ctx.err.msg))
        return ds_test_finish(&t);

    const ds_bert_layer_dims d = {.hidden = 32, .heads = 4, .intermediate = 37, .ln_eps = 1e-12};
    const int64_t B = 2, T = 7, H = 32;
    ds_param_spec specs[DS_BL_PARAM_COUNT];
    int n = 0;
    ds_bert_layer_specs(&d, "", specs, &n);
    ds_param_block pb;
    if (!ds_test_check(&t, ds_param_block_init(&pb, specs, n, &ctx.err) == DS_OK, "param block: %s", ctx.err.msg))
        return ds_test_finish(&t);
    char name[4096];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "param.%s", specs[i].name);
        const ds_tensor p = ds_param_block_param(&pb, i);
        ds_test_check(&t, load_into(&f, name, &p, &ctx.err) == DS_OK, "load %s: %s", name, ctx.err.msg);
    }
    ds_tensor x, mask, y_want, dy, dx_want;
    ds_st_view(&f, "x", DS_F32, &x, &ctx.err);
    ds_st_view(&f, "mask", DS_I32, &mask, &ctx.err);
    ds_st_view(&f, "y", DS_F32, &y_want, &ctx.err);
    ds_st_view(&f, "dy", DS_F32, &dy, &ctx.err);
    ds_st_view(&f, "dx", DS_F32, &dx_want, &ctx.err);
    if (!ds_test_check(&t, ctx.err.status == DS_OK, "fixture tensors: %s", ctx.err.msg)) return ds_test_finish(&t);
    const ds_tensor x2 = ds_tensor_cpu2(x.data, DS_F32, B * T, H);
    const ds_tensor dy2 = ds_tensor_cpu2(dy.data, DS_F32, B * T, H);

    // Plan with a measuring arena, then run in an arena of exactly that size.
    ds_arena plan = ds_arena_measure();
    ds_bert_layer_acts acts;
    float *dxbuf = calloc((size_t)(B * T * H), sizeof(float));
    const ds_tensor dx = ds_tensor_cpu2(dxbuf, DS_F32, B * T, H);
    ds_test_check(&t, ds_bert_layer_forward(&ctx, &d, &pb, 0, &x2, &mask, B, T, 0, &plan, &acts) == DS_OK &&
                          ds_bert_layer_backward(&ctx, &d, &pb, 0, &acts, &mask, &dy2, &dx, 0, &plan) == DS_OK,
                  "plan: %s", ctx.err.msg);
    ds_arena arena;
    ds_test_check(&t, ds_arena_init_cpu(&arena, plan.peak, &ctx.err) == DS_OK, "arena: %s", ctx.err.msg);

    ds_test_check(&t, ds_bert_layer_forward(&ctx, &d, &pb, 0, &x2, &mask, B, T, 0, &arena, &acts) == DS_OK,
                  "forward: %s", ctx.err.msg);
    ds_test_close(&t, "y", &acts.y, &y_want, TOL);
    ds_test_check(&t, ds_bert_layer_backward(&ctx, &d, &pb, 0, &acts, &mask, &dy2, &dx, 0, &arena) == DS_OK,
                  "backward: %s", ctx.err.msg);
    ds_test_check(&t, arena.peak == plan.peak, "plan %zu bytes != used %zu", plan.peak, arena.peak);
    ds_test_close(&t, "dx", &dx, &dx_want, TOL);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "grad.%s", specs[i].name);
        ds_tensor want;
        if (!ds_test_check(&t, ds_st_view(&f, name, DS_F32, &want, &ctx.err) == DS_OK, "%s", ctx.err.msg)) continue;
        const ds_tensor got = ds_param_block_grad(&pb, i);
        if (i == DS_BL_K_B) {
            // The key bias adds the same amount to every score of a query row, which softmax
            // ignores: its true gradient is 0 and both sides hold only rounding noise (~1e-7).
            // Check it absolutely against the scale of the other gradients (O(1)) instead.
            double worst = 0;
            for (int64_t j = 0; j < ds_tensor_numel(&got); j++) {
                const double g = ((const float *)got.data)[j];
                worst = g > worst ? g : (-g > worst ? -g : worst);
            }
            ds_test_check(&t, worst <= 1e-5, "%s: |grad| %.3e where the true gradient is 0", name, worst);
            continue;
        }
        ds_test_close(&t, name, &got, &want, TOL);
    }
    free(dxbuf);
    ds_arena_free(&arena);
    ds_param_block_free(&pb);
    ds_st_close(&f);
    return ds_test_finish(&t);
}
