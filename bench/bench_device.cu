// bench/bench_device.h on CUDA: events and fills on the stream of the context's device state.
#include <stdlib.h>

#include "../kernels/cuda/cuda_state.cuh"

extern "C" {
#include "bench_device.h"
}

struct ds_bench_timer {
    int count;
    cudaEvent_t *start, *stop;  // (count) each
};

extern "C" void ds_bench_timer_destroy(ds_bench_timer *t) {
    if (t == NULL) return;
    for (int i = 0; i < t->count; i++) {
        if (t->start && t->start[i]) cudaEventDestroy(t->start[i]);
        if (t->stop && t->stop[i]) cudaEventDestroy(t->stop[i]);
    }
    free(t->start);
    free(t->stop);
    free(t);
}

extern "C" ds_status ds_bench_timer_create(ds_context *ctx, int count, ds_bench_timer **out) {
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "bench timer", &st));
    (void)st;
    *out = NULL;
    ds_bench_timer *t = (ds_bench_timer *)calloc(1, sizeof *t);
    DS_REQUIRE(&ctx->err, t != NULL, DS_ERR_OOM, "bench timer: out of host memory");
    t->start = (cudaEvent_t *)calloc((size_t)count, sizeof(cudaEvent_t));
    t->stop = (cudaEvent_t *)calloc((size_t)count, sizeof(cudaEvent_t));
    t->count = count;
    if (t->start == NULL || t->stop == NULL) {
        ds_bench_timer_destroy(t);
        return ds_err_set(&ctx->err, DS_ERR_OOM, "bench timer: out of host memory");
    }
    for (int i = 0; i < count; i++) {
        const cudaError_t e1 = cudaEventCreate(&t->start[i]), e2 = cudaEventCreate(&t->stop[i]);
        if (e1 != cudaSuccess || e2 != cudaSuccess) {
            ds_bench_timer_destroy(t);
            return ds_err_set(&ctx->err, DS_ERR_CUDA, "bench timer: cudaEventCreate: %s",
                              cudaGetErrorString(e1 != cudaSuccess ? e1 : e2));
        }
    }
    *out = t;
    return DS_OK;
}

extern "C" ds_status ds_bench_timer_start(ds_context *ctx, ds_bench_timer *t, int i) {
    DS_CUDA_CHECK(&ctx->err, cudaEventRecord(t->start[i], ctx->cuda->stream));
    return DS_OK;
}

extern "C" ds_status ds_bench_timer_stop(ds_context *ctx, ds_bench_timer *t, int i) {
    DS_CUDA_CHECK(&ctx->err, cudaEventRecord(t->stop[i], ctx->cuda->stream));
    return DS_OK;
}

extern "C" ds_status ds_bench_timer_read(ds_context *ctx, ds_bench_timer *t, int n, float *ms) {
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(ctx->cuda->stream));
    for (int i = 0; i < n; i++) DS_CUDA_CHECK(&ctx->err, cudaEventElapsedTime(&ms[i], t->start[i], t->stop[i]));
    return DS_OK;
}

extern "C" ds_status ds_bench_l2_bytes(ds_context *ctx, size_t *bytes) {
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "bench l2", &st));
    int l2 = 0;
    DS_CUDA_CHECK(&ctx->err, cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, st->device));
    *bytes = (size_t)l2;
    return DS_OK;
}

__device__ __forceinline__ uint64_t bench_globaltimer_ns() {
    uint64_t t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    return t;
}

// One thread: returns once `ns` nanoseconds of the device's global timer have passed.
__global__ void bench_spin_kernel(uint64_t ns) {
    const uint64_t t0 = bench_globaltimer_ns();
    while (bench_globaltimer_ns() - t0 < ns) {
    }
}

extern "C" ds_status ds_bench_spin(ds_context *ctx, unsigned us) {
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "bench spin", &st));
    bench_spin_kernel<<<1, 1, 0, st->stream>>>((uint64_t)us * 1000u);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}

__device__ __forceinline__ uint64_t bench_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// dst: (n) device of dtype dt (F32, BF16 or U8); element i from the hash of (seed, i).
__global__ void bench_fill_kernel(void *dst, int dt, size_t n, uint64_t seed, float lo, float hi) {
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const uint64_t h = bench_mix(seed * 0x9e3779b97f4a7c15ull + i + 1);
        const float u = (float)(h >> 40) * (1.0f / 16777216.0f);
        const float x = lo + (hi - lo) * u;
        if (dt == DS_F32) ((float *)dst)[i] = x;
        else if (dt == DS_BF16) ((__nv_bfloat16 *)dst)[i] = __float2bfloat16_rn(x);
        else ((unsigned char *)dst)[i] = (unsigned char)(h % 10 != 0);
    }
}

extern "C" ds_status ds_bench_fill(ds_context *ctx, void *dst, ds_dtype dt, size_t n, uint64_t seed, float lo,
                                   float hi) {
    ds_cuda_state *st = NULL;
    DS_TRY(ds_cuda_state_of(ctx, "bench fill", &st));
    DS_REQUIRE(&ctx->err, dt == DS_F32 || dt == DS_BF16 || dt == DS_U8, DS_ERR_INVALID_ARG,
               "bench fill: dtype %s is not F32, BF16 or U8", ds_dtype_name(dt));
    if (n == 0) return DS_OK;
    const unsigned threads = 256;
    unsigned blocks = ds_cuda_blocks((int64_t)n, threads);
    if (blocks > 4096) blocks = 4096;  // grid-stride: a few waves are enough for a fill
    bench_fill_kernel<<<blocks, threads, 0, st->stream>>>(dst, (int)dt, n, seed, lo, hi);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    return DS_OK;
}
