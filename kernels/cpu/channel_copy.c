// Channel slice copy between two (N, C, H, W) tensors: the forward and backward of a channel
// concatenation (DeepLab's ASPP joins five branches this way).
#include <string.h>

#include "../../runtime/base/check.h"
#include "cpu_ops.h"
#include "op_checks.h"

ds_status ds_cpu_channel_copy(ds_context *ctx, const void *args) {
    const ds_channel_copy_args *a = args;
    const char *op = "channel_copy";
    ds_err *err = &ctx->err;
    ds_dtype dt;
    DS_TRY(ds_cpu_check_float(err, op, "src", &a->src, &dt));
    DS_TRY(ds_cpu_check(err, op, "src", &a->src, dt, 4, NULL));
    const int64_t N = a->src.shape[0], Cs = a->src.shape[1], H = a->src.shape[2], W = a->src.shape[3];
    DS_TRY(ds_cpu_check(err, op, "dst", &a->dst, dt, 4, (const int64_t[]){N, -1, H, W}));
    const int64_t Cd = a->dst.shape[1], k = a->channels;
    DS_REQUIRE(err, k >= 0 && a->src_c0 >= 0 && a->dst_c0 >= 0 && a->src_c0 + k <= Cs && a->dst_c0 + k <= Cd,
               DS_ERR_INVALID_ARG,
               "%s: channels [%lld, %lld) of src (%lld channels) into [%lld, %lld) of dst (%lld channels) are out of "
               "range",
               op, (long long)a->src_c0, (long long)(a->src_c0 + k), (long long)Cs, (long long)a->dst_c0,
               (long long)(a->dst_c0 + k), (long long)Cd);
    const size_t es = ds_dtype_size(dt);
    const int64_t block = k * H * W;  // contiguous elements per image on both sides
    const char *src = a->src.data;
    char *dst = a->dst.data;
    DS_REQUIRE(err, dst + (size_t)(N * Cd * H * W) * es <= src || src + (size_t)(N * Cs * H * W) * es <= dst,
               DS_ERR_INVALID_ARG, "%s: src and dst overlap", op);
#pragma omp parallel for schedule(static) if (N * block > 65536)
    for (int64_t n = 0; n < N; n++) {
        const char *s = src + (size_t)((n * Cs + a->src_c0) * H * W) * es;
        char *d = dst + (size_t)((n * Cd + a->dst_c0) * H * W) * es;
        if (!a->accumulate) {
            memcpy(d, s, (size_t)block * es);
        } else if (dt == DS_F32) {
            const float *sf = (const float *)s;
            float *df = (float *)d;
            for (int64_t i = 0; i < block; i++) df[i] += sf[i];
        } else {
            const double *sf = (const double *)s;
            double *df = (double *)d;
            for (int64_t i = 0; i < block; i++) df[i] += sf[i];
        }
    }
    return DS_OK;
}
