#include "gpu_test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernels/cuda_info.h"

bool ds_gpu_test_open(ds_context *ctx, const char *name) {
    char why[256] = "";
    if (ds_cuda_device_count(why, sizeof why) == 0) {
        printf("%s: skipped: %s\n", name, why);
        return false;
    }
    const ds_gpu_options o = ds_gpu_options_default();
    if (ds_gpu_open(ctx, &o) != DS_OK) {
        printf("%s: skipped: cannot open cuda:0: %s\n", name, ctx->err.msg);
        return false;
    }
    return true;
}

static ds_tensor device_like(ds_context *ctx, const ds_tensor *like, ds_dtype dtype) {
    ds_tensor d = ds_tensor_make(NULL, dtype, (ds_device){DS_DEVICE_CUDA, ctx->device.index}, like->ndim, like->shape);
    size_t n = ds_tensor_nbytes(&d);
    if (ds_gpu_alloc(ctx, n ? n : 1, &d.data) != DS_OK) {
        fprintf(stderr, "gpu test: %s\n", ctx->err.msg);
        exit(1);  // test programs only: an allocation failure ends the test as failed
    }
    return d;
}

ds_tensor ds_gpu_test_poisoned(ds_context *ctx, const ds_tensor *like, ds_dtype dtype) {
    ds_tensor d = device_like(ctx, like, dtype);
    ds_gpu_memset(ctx, d.data, 0xff, ds_tensor_nbytes(&d));
    return d;
}

ds_tensor ds_gpu_test_upload(ds_context *ctx, const ds_tensor *h, ds_dtype dtype) {
    ds_tensor d = device_like(ctx, h, dtype);
    const int64_t n = ds_tensor_numel(h);
    if (dtype == DS_BF16 && h->dtype == DS_F32) {
        unsigned short *tmp = malloc(sizeof(unsigned short) * (size_t)(n ? n : 1));
        for (int64_t i = 0; i < n; i++) tmp[i] = ds_f32_to_bf16(((const float *)h->data)[i]);
        ds_gpu_upload(ctx, d.data, tmp, sizeof(unsigned short) * (size_t)n);
        ds_gpu_sync(ctx);  // tmp is pageable and freed next
        free(tmp);
    } else {
        if (dtype != h->dtype) {
            fprintf(stderr, "gpu test: upload from %s to %s is not supported\n", ds_dtype_name(h->dtype),
                    ds_dtype_name(dtype));
            exit(1);
        }
        ds_gpu_upload(ctx, d.data, h->data, ds_tensor_nbytes(h));
        ds_gpu_sync(ctx);
    }
    return d;
}

ds_tensor ds_gpu_test_download(ds_context *ctx, const ds_tensor *d) {
    const int64_t n = ds_tensor_numel(d);
    const ds_dtype out_dt = d->dtype == DS_I32 ? DS_I32 : DS_F32;
    ds_tensor h = ds_tensor_make(calloc((size_t)(n ? n : 1), 4), out_dt, (ds_device){DS_DEVICE_CPU, 0}, d->ndim, d->shape);
    if (ds_gpu_sync(ctx) != DS_OK) {
        fprintf(stderr, "gpu test: an op failed on the device: %s\n", ctx->err.msg);
        exit(1);
    }
    if (d->dtype == DS_BF16) {
        unsigned short *tmp = malloc(sizeof(unsigned short) * (size_t)(n ? n : 1));
        ds_gpu_download(ctx, tmp, d->data, sizeof(unsigned short) * (size_t)n);
        ds_gpu_sync(ctx);
        for (int64_t i = 0; i < n; i++) ((float *)h.data)[i] = ds_bf16_to_f32(tmp[i]);
        free(tmp);
    } else {
        ds_gpu_download(ctx, h.data, d->data, ds_tensor_nbytes(d));
        ds_gpu_sync(ctx);
    }
    return h;
}

void ds_gpu_test_free(ds_context *ctx, ds_tensor *d) {
    ds_gpu_free(ctx, d->data, ds_tensor_nbytes(d));
    d->data = NULL;
}

uint64_t ds_gpu_test_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

ds_tensor ds_gpu_test_random(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi) {
    ds_tensor h = ds_tensor_make(NULL, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, ndim, shape);
    const int64_t n = ds_tensor_numel(&h);
    float *p = calloc((size_t)(n ? n : 1), sizeof(float));
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * (float)((ds_gpu_test_splitmix64(&s) >> 40) * (1.0 / 16777216.0));
    h.data = p;
    return h;
}

void ds_gpu_test_round_bf16(ds_tensor *h) {
    const int64_t n = ds_tensor_numel(h);
    float *p = h->data;
    for (int64_t i = 0; i < n; i++) p[i] = ds_bf16_to_f32(ds_f32_to_bf16(p[i]));
}

ds_tensor ds_gpu_test_random_rounded(int ndim, const int64_t *shape, uint64_t seed, float lo, float hi,
                                     bool round_bf16) {
    ds_tensor h = ds_gpu_test_random(ndim, shape, seed, lo, hi);
    if (round_bf16) ds_gpu_test_round_bf16(&h);
    return h;
}

ds_tensor ds_gpu_test_host_zeros(int ndim, const int64_t *shape) {
    ds_tensor h = ds_tensor_make(NULL, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, ndim, shape);
    const int64_t n = ds_tensor_numel(&h);
    h.data = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    return h;
}

ds_tensor ds_gpu_test_host_zeros_like(const ds_tensor *h) {
    ds_tensor z = *h;
    const int64_t n = ds_tensor_numel(h);
    z.data = calloc((size_t)(n ? n : 1), sizeof(float));
    return z;
}

ds_tensor ds_gpu_test_host_copy(const ds_tensor *h) {
    ds_tensor c = ds_gpu_test_host_zeros_like(h);
    memcpy(c.data, h->data, (size_t)ds_tensor_numel(h) * sizeof(float));
    return c;
}

bool ds_gpu_test_same_bits(const ds_tensor *a, const ds_tensor *b) {
    return memcmp(a->data, b->data, ds_tensor_nbytes(a)) == 0;
}

ds_tensor ds_gpu_test_offset_view(const ds_tensor *d) {
    const int64_t n = ds_tensor_numel(d) - 1;
    return ds_tensor_make((char *)d->data + ds_dtype_size(d->dtype), d->dtype, d->device, 1, &n);
}

const char *ds_gpu_test_variant_name(ds_kernel_variant v) { return v == DS_KERNELS_FAST ? "fast" : "plain"; }

void ds_gpu_test_expect_close(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *dev,
                              const ds_tensor *want, double tol) {
    ds_tensor got = ds_gpu_test_download(ctx, dev);
    ds_test_close(t, what, &got, want, tol);
    free(got.data);
}

void ds_gpu_test_expect_same_bits(ds_test *t, ds_context *ctx, const char *what, const ds_tensor *a,
                                  const ds_tensor *b) {
    ds_tensor ha = ds_gpu_test_download(ctx, a), hb = ds_gpu_test_download(ctx, b);
    ds_test_check(t, ds_gpu_test_same_bits(&ha, &hb), "%s: two runs differ", what);
    free(ha.data);
    free(hb.data);
}

void ds_gpu_test_expect_invalid_arg(ds_test *t, ds_context *ctx, ds_status s, const char *op, const char *what) {
    ds_test_check(t, s == DS_ERR_INVALID_ARG && strstr(ctx->err.msg, op) != NULL,
                  "%s: expected an invalid-argument error naming %s, got status %d: %s", what, op, (int)s,
                  ctx->err.msg);
    ds_err_clear(&ctx->err);
}
