// Attention on token-major tensors (ds_attention_*_args.token_major_heads: q, k, v, out, dout,
// dq, dk, dv as (B, T, H*D), the rows the linear layers write) against the same op on the
// (B, H, T, D) permutation of the same numbers: every output bit for bit equal, in F32 (the
// tiled kernel reading rows H*D apart; a batch with padded keys takes the gather path, one
// without takes the in-place path) and in F64 (head-major copies around the reference), with
// dropout, at T = 37 (one key block) and T = 300 (two key blocks, five query tiles). Plus the
// refusals of shapes that do not fit the head count.
#include <stdlib.h>
#include <string.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"
#include "../test_util.h"

typedef struct dims {
    int64_t B, H, T, D;
} dims;

// (B, T, H, D) <-> (B, H, T, D), elements of `es` bytes.
static void permute(const dims *d, const void *src, void *dst, bool to_heads, size_t es) {
    for (int64_t b = 0; b < d->B; b++)
        for (int64_t h = 0; h < d->H; h++)
            for (int64_t t = 0; t < d->T; t++) {
                const int64_t tm = ((b * d->T + t) * d->H + h) * d->D, hm = ((b * d->H + h) * d->T + t) * d->D;
                memcpy((char *)dst + (to_heads ? hm : tm) * es, (const char *)src + (to_heads ? tm : hm) * es,
                       (size_t)d->D * es);
            }
}

// Forward + backward of one layout. in: q, k, v, dout (4 x n, layout of `tm`); out: out, dq, dk, dv
// (4 x n, same layout) and lse (B, H, T).
static bool run(ds_test *t, ds_context *ctx, const dims *d, ds_dtype dt, bool tm, const int32_t *mask, void *in,
                void *out, void *lse) {
    const size_t es = dt == DS_F64 ? 8 : 4;
    const int64_t n = d->B * d->H * d->T * d->D;
    char *i = in, *o = out;
    ds_tensor x[8];
    for (int k = 0; k < 8; k++) {
        void *p = k < 4 ? i + (size_t)k * n * es : o + (size_t)(k - 4) * n * es;
        x[k] = tm ? ds_tensor_cpu3(p, dt, d->B, d->T, d->H * d->D) : ds_tensor_cpu4(p, dt, d->B, d->H, d->T, d->D);
    }
    const int heads = tm ? (int)d->H : 0;
    ds_attention_fwd_args f = {.q = x[0], .k = x[1], .v = x[2], .key_mask = ds_tensor_cpu2((void *)mask, DS_I32, d->B, d->T),
                               .out = x[4], .lse = ds_tensor_cpu3(lse, dt, d->B, d->H, d->T), .scale = 0.3,
                               .dropout_p = 0.1f, .dropout_offset = 5, .token_major_heads = heads};
    ds_attention_bwd_args b = {.q = x[0], .k = x[1], .v = x[2], .key_mask = f.key_mask, .out = x[4], .lse = f.lse,
                               .dout = x[3], .dq = x[5], .dk = x[6], .dv = x[7], .scale = 0.3, .dropout_p = 0.1f,
                               .dropout_offset = 5, .token_major_heads = heads};
    return ds_test_check(t, ds_attention_forward(ctx, &f) == DS_OK, "forward: %s", ctx->err.msg) &&
           ds_test_check(t, ds_attention_backward(ctx, &b) == DS_OK, "backward: %s", ctx->err.msg);
}

static void one_case(ds_test *t, ds_context *ctx, dims d, ds_dtype dt) {
    const size_t es = dt == DS_F64 ? 8 : 4;
    const int64_t n = d.B * d.H * d.T * d.D, nl = d.B * d.H * d.T;
    float *rnd = malloc(4 * (size_t)n * sizeof(float));
    ds_fill_uniform_f32(rnd, 4 * n, 17);
    char *in_tm = malloc(4 * n * es), *in_hm = malloc(4 * n * es), *out_tm = malloc(4 * n * es);
    char *out_hm = malloc(4 * n * es), *back = malloc(4 * n * es), *lse_tm = malloc(nl * es), *lse_hm = malloc(nl * es);
    for (int64_t k = 0; k < 4 * n; k++) {
        if (dt == DS_F64) ((double *)in_tm)[k] = rnd[k];
        else ((float *)in_tm)[k] = rnd[k];
    }
    for (int k = 0; k < 4; k++) permute(&d, in_tm + k * n * es, in_hm + k * n * es, true, es);
    int32_t *mask = malloc(d.B * d.T * sizeof(int32_t));
    for (int64_t b = 0; b < d.B; b++)  // batch 0: no padding (in place); the others: the last third padded
        for (int64_t j = 0; j < d.T; j++) mask[b * d.T + j] = b == 0 || j < d.T - d.T / 3;
    if (run(t, ctx, &d, dt, true, mask, in_tm, out_tm, lse_tm) && run(t, ctx, &d, dt, false, mask, in_hm, out_hm, lse_hm)) {
        for (int k = 0; k < 4; k++) permute(&d, out_hm + k * n * es, back + k * n * es, false, es);
        const char *names[4] = {"out", "dq", "dk", "dv"};
        for (int k = 0; k < 4; k++)
            ds_test_check(t, memcmp(out_tm + k * n * es, back + k * n * es, n * es) == 0,
                          "%s, T=%lld: token-major %s differs from the head-major run's", ds_dtype_name(dt),
                          (long long)d.T, names[k]);
        ds_test_check(t, memcmp(lse_tm, lse_hm, nl * es) == 0, "%s, T=%lld: lse differs", ds_dtype_name(dt),
                      (long long)d.T);
    }
    free(rnd), free(in_tm), free(in_hm), free(out_tm), free(out_hm), free(back), free(lse_tm), free(lse_hm), free(mask);
}

static void check_refusals(ds_test *t, ds_context *ctx) {
    float buf[2 * 5 * 12], lse[2 * 5 * 5];
    // 12 columns are not a multiple of 5 heads
    ds_attention_fwd_args f = {.q = ds_tensor_cpu3(buf, DS_F32, 2, 5, 12), .k = ds_tensor_cpu3(buf, DS_F32, 2, 5, 12),
                               .v = ds_tensor_cpu3(buf, DS_F32, 2, 5, 12), .out = ds_tensor_cpu3(buf, DS_F32, 2, 5, 12),
                               .lse = ds_tensor_cpu3(lse, DS_F32, 2, 5, 5), .scale = 1, .token_major_heads = 5};
    ds_status st = ds_attention_forward(ctx, &f);
    ds_test_check(t, st == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "not a multiple of token_major_heads"),
                  "12 columns, 5 heads: %s, \"%s\"", ds_status_name(st), ctx->err.msg);
    // a (B, H, T, D) tensor with a head count
    f.q = ds_tensor_cpu4(buf, DS_F32, 2, 3, 5, 4);
    f.token_major_heads = 3;
    st = ds_attention_forward(ctx, &f);
    ds_test_check(t, st == DS_ERR_INVALID_ARG, "4-d q with token_major_heads: %s", ds_status_name(st));
    f.token_major_heads = -1;
    st = ds_attention_forward(ctx, &f);
    ds_test_check(t, st == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, "token_major_heads"), "heads -1: %s, \"%s\"",
                  ds_status_name(st), ctx->err.msg);
}

int main(void) {
    ds_test t = ds_test_begin("attention_token_major");
    ds_context ctx = ds_context_cpu();
    one_case(&t, &ctx, (dims){3, 4, 37, 8}, DS_F32);
    one_case(&t, &ctx, (dims){2, 3, 300, 16}, DS_F32);
    one_case(&t, &ctx, (dims){2, 3, 23, 4}, DS_F64);
    check_refusals(&t, &ctx);
    return ds_test_finish(&t);
}
