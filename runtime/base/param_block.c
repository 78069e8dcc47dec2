#include "param_block.h"

#include <stdlib.h>
#include <string.h>

ds_status ds_param_block_init(ds_param_block *pb, const ds_param_spec *specs, int count, ds_err *err) {
    memset(pb, 0, sizeof *pb);
    pb->specs = calloc((size_t)(count > 0 ? count : 1), sizeof *pb->specs);
    pb->offset = calloc((size_t)(count > 0 ? count : 1), sizeof *pb->offset);
    if (!pb->specs || !pb->offset) {
        ds_param_block_free(pb);
        return ds_err_set(err, DS_ERR_OOM, "parameter block: out of memory for %d specs", count);
    }
    size_t at = 0;
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(specs[i].name, specs[j].name) == 0) {
                ds_param_block_free(pb);
                return ds_err_set(err, DS_ERR_INVALID_ARG, "parameter block: duplicate tensor name '%s'",
                                  specs[i].name);
            }
        pb->specs[i] = specs[i];
        pb->offset[i] = at;
        size_t n = 1;
        for (int d = 0; d < specs[i].ndim; d++) n *= (size_t)specs[i].shape[d];
        at += (n + DS_PARAM_ALIGN - 1) / DS_PARAM_ALIGN * DS_PARAM_ALIGN;
    }
    pb->count = count;
    pb->total = at;
    const size_t bytes = (at ? at : 1) * sizeof(float);
    pb->params = aligned_alloc(256, (bytes + 255) / 256 * 256);
    pb->grads = aligned_alloc(256, (bytes + 255) / 256 * 256);
    if (!pb->params || !pb->grads) {
        ds_param_block_free(pb);
        return ds_err_set(err, DS_ERR_OOM, "parameter block: cannot allocate 2 x %zu bytes", bytes);
    }
    memset(pb->params, 0, bytes);
    memset(pb->grads, 0, bytes);
    return DS_OK;
}

void ds_param_block_free(ds_param_block *pb) {
    if (pb->dev_release) {
        const size_t n = pb->total ? pb->total : 1;
        pb->dev_release(pb->dev_owner, pb->params_dev, n * sizeof(float));
        pb->dev_release(pb->dev_owner, pb->grads_dev, n * sizeof(float));
        pb->dev_release(pb->dev_owner, pb->params_bf16_dev, n * sizeof(uint16_t));
    }
    free(pb->specs);
    free(pb->offset);
    free(pb->params);
    free(pb->grads);
    memset(pb, 0, sizeof *pb);
}

int ds_param_block_find(const ds_param_block *pb, const char *name) {
    for (int i = 0; i < pb->count; i++)
        if (strcmp(pb->specs[i].name, name) == 0) return i;
    return -1;
}

static ds_tensor view(const ds_param_block *pb, float *base, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    return ds_tensor_make(base + pb->offset[i], DS_F32, cpu, pb->specs[i].ndim, pb->specs[i].shape);
}

ds_tensor ds_param_block_param(const ds_param_block *pb, int i) { return view(pb, pb->params, i); }
ds_tensor ds_param_block_grad(const ds_param_block *pb, int i) { return view(pb, pb->grads, i); }

static bool on_device(const ds_param_block *pb) { return pb->device.kind != DS_DEVICE_CPU; }

static ds_tensor op_view(const ds_param_block *pb, void *base, ds_dtype dtype, int i) {
    char *at = base ? (char *)base + pb->offset[i] * ds_dtype_size(dtype) : NULL;
    return ds_tensor_make(at, dtype, pb->device, pb->specs[i].ndim, pb->specs[i].shape);
}

ds_tensor ds_param_block_op_param(const ds_param_block *pb, int i) {
    return op_view(pb, on_device(pb) ? pb->params_dev : pb->params, DS_F32, i);
}
ds_tensor ds_param_block_op_grad(const ds_param_block *pb, int i) {
    return op_view(pb, on_device(pb) ? pb->grads_dev : pb->grads, DS_F32, i);
}
ds_tensor ds_param_block_op_param_bf16(const ds_param_block *pb, int i) {
    if (!on_device(pb) || !pb->params_bf16_dev) return (ds_tensor){0};
    return op_view(pb, pb->params_bf16_dev, DS_BF16, i);
}

static ds_tensor flat(const ds_param_block *pb, void *base, ds_dtype dtype) {
    const int64_t n = (int64_t)pb->total;
    return ds_tensor_make(base, dtype, pb->device, 1, &n);
}
ds_tensor ds_param_block_op_flat_params(const ds_param_block *pb) {
    return flat(pb, on_device(pb) ? pb->params_dev : pb->params, DS_F32);
}
ds_tensor ds_param_block_op_flat_grads(const ds_param_block *pb) {
    return flat(pb, on_device(pb) ? pb->grads_dev : pb->grads, DS_F32);
}
ds_tensor ds_param_block_op_flat_bf16(const ds_param_block *pb) {
    if (!on_device(pb) || !pb->params_bf16_dev) return (ds_tensor){0};
    return flat(pb, pb->params_bf16_dev, DS_BF16);
}

size_t ds_param_block_numel(const ds_param_block *pb) {
    size_t n = 0;
    for (int i = 0; i < pb->count; i++) {
        size_t k = 1;
        for (int d = 0; d < pb->specs[i].ndim; d++) k *= (size_t)pb->specs[i].shape[d];
        n += k;
    }
    return n;
}
