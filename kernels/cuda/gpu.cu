// kernels/gpu.h on CUDA: the per-context device state, device memory and a deterministic
// sum of squares.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_state.cuh"

extern "C" ds_gpu_options ds_gpu_options_default(void) {
    ds_gpu_options o;
    memset(&o, 0, sizeof o);
    o.device_index = 0;
    o.kernels = DS_KERNELS_PLAIN;
    o.attention = DS_ATTENTION_OWN;
    o.conv = DS_CONV_OWN;
    o.ctc = DS_CTC_OWN;
    o.allow_tf32 = false;
    o.gemm_workspace_bytes = 0;
    o.trusted_indices = false;
    return o;
}

static ds_status open_state(ds_context *ctx, const ds_gpu_options *opt, ds_cuda_state *s) {
    ds_err *err = &ctx->err;
    int n = 0;
    DS_CUDA_CHECK(err, cudaGetDeviceCount(&n));
    DS_REQUIRE(err, opt->device_index >= 0 && opt->device_index < n, DS_ERR_INVALID_ARG,
               "cuda:%d asked for but this process sees %d CUDA device(s)", opt->device_index, n);
    s->opt = *opt;
    s->device = opt->device_index;
    DS_CUDA_CHECK(err, cudaSetDevice(s->device));
    cudaDeviceProp p;
    DS_CUDA_CHECK(err, cudaGetDeviceProperties(&p, s->device));
    s->sm_major = p.major;
    s->sm_minor = p.minor;
    s->num_sms = p.multiProcessorCount;
    s->max_smem_optin = p.sharedMemPerBlockOptin;
    DS_CUDA_CHECK(err, cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    DS_CUBLAS_CHECK(err, cublasLtCreate(&s->lt));
    s->lt_workspace_bytes = opt->gemm_workspace_bytes ? opt->gemm_workspace_bytes : ((size_t)32 << 20);
    DS_CUDA_CHECK(err, cudaMalloc(&s->lt_workspace, s->lt_workspace_bytes));
    s->scratch_bytes = DS_CUDA_SCRATCH_BYTES;
    DS_CUDA_CHECK(err, cudaMalloc(&s->scratch, s->scratch_bytes));
#if DS_HAVE_CUDNN
    DS_CUDNN_CHECK(err, cudnnCreate(&s->cudnn));
    DS_CUDNN_CHECK(err, cudnnSetStream(s->cudnn, s->stream));
#endif
    s->live_bytes = s->peak_bytes = s->lt_workspace_bytes + s->scratch_bytes;
    return DS_OK;
}

static void close_state(ds_cuda_state *s) {
    if (s->stream) cudaStreamSynchronize(s->stream);
    ds_conv_tuning_free(s->conv_tuning);
    ds_gemm_cache_free(s->gemm_cache);
#if DS_HAVE_CUDNN
    if (s->cudnn) cudnnDestroy(s->cudnn);
#endif
    if (s->lt) cublasLtDestroy(s->lt);
    cudaFree(s->lt_workspace);
    cudaFree(s->scratch);
    if (s->stream) cudaStreamDestroy(s->stream);
    free(s);
}

extern "C" ds_status ds_gpu_open(ds_context *ctx, const ds_gpu_options *opt) {
    DS_REQUIRE(&ctx->err, ctx->cuda == NULL, DS_ERR_INVALID_ARG, "ds_gpu_open: the context already has a device open");
    ds_cuda_state *s = (ds_cuda_state *)calloc(1, sizeof *s);
    DS_REQUIRE(&ctx->err, s != NULL, DS_ERR_OOM, "ds_gpu_open: out of host memory");
    ds_status st = open_state(ctx, opt, s);
    if (st != DS_OK) {
        close_state(s);
        return st;
    }
    ctx->cuda = s;
    ctx->device.kind = DS_DEVICE_CUDA;
    ctx->device.index = s->device;
    return DS_OK;
}

extern "C" void ds_gpu_close(ds_context *ctx) {
    if (ctx == NULL || ctx->cuda == NULL) return;
    close_state(ctx->cuda);
    ctx->cuda = NULL;
    ctx->device.kind = DS_DEVICE_CPU;
    ctx->device.index = 0;
}

extern "C" const ds_gpu_options *ds_gpu_get_options(const ds_context *ctx) {
    return ctx->cuda ? &ctx->cuda->opt : NULL;
}
extern "C" void ds_gpu_set_kernels(ds_context *ctx, ds_kernel_variant v) {
    if (ctx->cuda) ctx->cuda->opt.kernels = v;
}
extern "C" uint64_t ds_gpu_attention_cudnn_fallbacks(const ds_context *ctx) {
    return ctx->cuda ? ctx->cuda->attn_cudnn_fallbacks : 0;
}

extern "C" void ds_gpu_set_attention(ds_context *ctx, ds_attention_impl a) {
    if (ctx->cuda) ctx->cuda->opt.attention = a;
}
extern "C" void ds_gpu_set_conv(ds_context *ctx, ds_conv_impl c) {
    if (ctx->cuda) ctx->cuda->opt.conv = c;
}
extern "C" void ds_gpu_set_ctc(ds_context *ctx, ds_ctc_impl c) {
    if (ctx->cuda) ctx->cuda->opt.ctc = c;
}
extern "C" uint64_t ds_gpu_ctc_cudnn_calls(const ds_context *ctx) {
    return ctx->cuda ? ctx->cuda->ctc_cudnn_calls : 0;
}

static ds_status need_device(ds_context *ctx, const char *what) {
    DS_REQUIRE(&ctx->err, ctx->cuda != NULL, DS_ERR_INVALID_ARG, "%s: the context has no open CUDA device", what);
    return DS_OK;
}

extern "C" ds_status ds_gpu_alloc(ds_context *ctx, size_t bytes, void **dev_ptr) {
    DS_TRY(need_device(ctx, "ds_gpu_alloc"));
    *dev_ptr = NULL;
    if (bytes == 0) return DS_OK;
    cudaError_t e = cudaMalloc(dev_ptr, bytes);
    if (e != cudaSuccess) {
        cudaGetLastError();
        size_t fr = 0, total = 0;
        cudaMemGetInfo(&fr, &total);
        *dev_ptr = NULL;
        return ds_err_set(&ctx->err, e == cudaErrorMemoryAllocation ? DS_ERR_OOM : DS_ERR_CUDA,
                          "cuda:%d: cannot allocate %.1f MiB (%zu bytes): %s; %.1f MiB free of %.1f MiB",
                          ctx->cuda->device, bytes / 1048576.0, bytes, cudaGetErrorString(e), fr / 1048576.0,
                          total / 1048576.0);
    }
    ctx->cuda->live_bytes += bytes;
    if (ctx->cuda->live_bytes > ctx->cuda->peak_bytes) ctx->cuda->peak_bytes = ctx->cuda->live_bytes;
    return DS_OK;
}

extern "C" void ds_gpu_free(ds_context *ctx, void *dev_ptr, size_t bytes) {
    if (dev_ptr == NULL || ctx == NULL || ctx->cuda == NULL) return;
    cudaFree(dev_ptr);
    ctx->cuda->live_bytes -= bytes <= ctx->cuda->live_bytes ? bytes : ctx->cuda->live_bytes;
}

extern "C" ds_status ds_gpu_host_alloc(ds_context *ctx, size_t bytes, void **host_ptr) {
    DS_TRY(need_device(ctx, "ds_gpu_host_alloc"));
    *host_ptr = NULL;
    if (bytes == 0) return DS_OK;
    cudaError_t e = cudaHostAlloc(host_ptr, bytes, cudaHostAllocDefault);
    if (e != cudaSuccess) {
        cudaGetLastError();
        *host_ptr = NULL;
        return ds_err_set(&ctx->err, DS_ERR_OOM, "cannot allocate %zu bytes of pinned host memory: %s", bytes,
                          cudaGetErrorString(e));
    }
    return DS_OK;
}

extern "C" void ds_gpu_host_free(ds_context *ctx, void *host_ptr) {
    (void)ctx;
    if (host_ptr) cudaFreeHost(host_ptr);
}

extern "C" ds_status ds_gpu_upload(ds_context *ctx, void *dev_dst, const void *host_src, size_t bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_upload"));
    if (bytes) DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(dev_dst, host_src, bytes, cudaMemcpyHostToDevice, ctx->cuda->stream));
    return DS_OK;
}
extern "C" ds_status ds_gpu_download(ds_context *ctx, void *host_dst, const void *dev_src, size_t bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_download"));
    if (bytes) DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(host_dst, dev_src, bytes, cudaMemcpyDeviceToHost, ctx->cuda->stream));
    return DS_OK;
}
extern "C" ds_status ds_gpu_copy(ds_context *ctx, void *dev_dst, const void *dev_src, size_t bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_copy"));
    if (bytes) DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(dev_dst, dev_src, bytes, cudaMemcpyDeviceToDevice, ctx->cuda->stream));
    return DS_OK;
}
extern "C" ds_status ds_gpu_memset(ds_context *ctx, void *dev_dst, int byte, size_t bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_memset"));
    if (bytes) DS_CUDA_CHECK(&ctx->err, cudaMemsetAsync(dev_dst, byte, bytes, ctx->cuda->stream));
    return DS_OK;
}
extern "C" ds_status ds_gpu_sync(ds_context *ctx) {
    DS_TRY(need_device(ctx, "ds_gpu_sync"));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(ctx->cuda->stream));
    return DS_OK;
}

extern "C" ds_status ds_gpu_mem_info(ds_context *ctx, size_t *free_bytes, size_t *total_bytes) {
    DS_TRY(need_device(ctx, "ds_gpu_mem_info"));
    DS_CUDA_CHECK(&ctx->err, cudaMemGetInfo(free_bytes, total_bytes));
    return DS_OK;
}

extern "C" size_t ds_gpu_peak_bytes(const ds_context *ctx) { return ctx->cuda ? ctx->cuda->peak_bytes : 0; }

// ---- deterministic sum of squares: fixed block partials, then one block in index order ----
#define SUMSQ_THREADS 256
#define SUMSQ_BLOCKS 1024

// partial[b] = sum over the elements block b's grid-stride loop visits, reduced as a tree in
// shared memory (a fixed order, so the sum is identical every run). x: (n) device.
__global__ void sumsq_partials(const float *__restrict__ x, size_t n, double *__restrict__ partial) {
    __shared__ double sh[SUMSQ_THREADS];
    double acc = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        const double v = x[i];
        acc += v * v;
    }
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

// out[0] = sum of partial[0..count), one block. partial, out: device.
__global__ void sumsq_final(const double *__restrict__ partial, int count, double *__restrict__ out) {
    __shared__ double sh[SUMSQ_THREADS];
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += SUMSQ_THREADS) acc += partial[i];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = SUMSQ_THREADS / 2; s > 0; s >>= 1) {
        if ((int)threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = sh[0];
}

extern "C" ds_status ds_gpu_sum_squares(ds_context *ctx, const float *x_dev, size_t n, double *out) {
    DS_TRY(need_device(ctx, "ds_gpu_sum_squares"));
    ds_cuda_state *s = ctx->cuda;
    static_assert((SUMSQ_BLOCKS + 1) * sizeof(double) <= DS_CUDA_SCRATCH_BYTES, "scratch too small");
    double *partial = (double *)s->scratch, *total = partial + SUMSQ_BLOCKS;
    *out = 0.0;
    if (n == 0) return DS_OK;
    sumsq_partials<<<SUMSQ_BLOCKS, SUMSQ_THREADS, 0, s->stream>>>(x_dev, n, partial);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    sumsq_final<<<1, SUMSQ_THREADS, 0, s->stream>>>(partial, SUMSQ_BLOCKS, total);
    DS_CUDA_CHECK_LAUNCH(&ctx->err);
    DS_CUDA_CHECK(&ctx->err, cudaMemcpyAsync(out, total, sizeof(double), cudaMemcpyDeviceToHost, s->stream));
    DS_CUDA_CHECK(&ctx->err, cudaStreamSynchronize(s->stream));
    return DS_OK;
}

// ---- peaks: dense throughput of known parts (vendor data sheets), bandwidth likewise ----
typedef struct known_part {
    const char *name_contains;
    double bf16_tflops, fp32_tflops, tb_per_s;
} known_part;

extern "C" ds_status ds_gpu_peaks_get(ds_context *ctx, ds_gpu_peaks *out) {
    DS_TRY(need_device(ctx, "ds_gpu_peaks_get"));
    // Dense (no sparsity) figures of the SXM parts: H200 and H100 989 TFLOP/s bf16, 67 TFLOP/s
    // fp32 on CUDA cores; H200 4.8 TB/s HBM3e, H100 3.35 TB/s; A100 312 / 19.5 / 2.04.
    static const known_part parts[] = {
        {"H200", 989.0, 67.0, 4.8},
        {"H100", 989.0, 67.0, 3.35},
        {"A100", 312.0, 19.5, 2.04},
    };
    cudaDeviceProp p;
    DS_CUDA_CHECK(&ctx->err, cudaGetDeviceProperties(&p, ctx->cuda->device));
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%.255s", p.name);
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (strstr(p.name, parts[i].name_contains)) {
            out->bf16_flops = parts[i].bf16_tflops * 1e12;
            out->fp32_flops = parts[i].fp32_tflops * 1e12;
            out->mem_bytes_per_s = parts[i].tb_per_s * 1e12;
            break;
        }
    return DS_OK;
}

extern "C" void *ds_gpu_stream_handle(const ds_context *ctx) { return ctx->cuda ? (void *)ctx->cuda->stream : NULL; }
