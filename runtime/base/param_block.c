#include "param_block.h"

#include <stdlib.h>
#include <string.h>

size_t ds_param_spec_numel(const ds_param_spec *s) {
    size_t n = 1;
    for (int d = 0; d < s->ndim; d++) n *= (size_t)s->shape[d];
    return n;
}

size_t ds_param_spec_slots(const ds_param_spec *s) {
    return (ds_param_spec_numel(s) * ds_dtype_size(s->dtype) + sizeof(float) - 1) / sizeof(float);
}

static size_t padded(size_t n) { return (n + DS_PARAM_ALIGN - 1) / DS_PARAM_ALIGN * DS_PARAM_ALIGN; }

// Offsets in kind order (frozen, trainable, buffers), each kind in spec order; the trainable
// range's lr groups.
static ds_status lay_out(ds_param_block *pb, ds_err *err) {
    static const ds_param_kind order[] = {DS_PARAM_FROZEN, DS_PARAM_TRAINABLE, DS_PARAM_BUFFER};
    size_t at = 0;
    int *in_block = malloc((size_t)(pb->count > 0 ? pb->count : 1) * sizeof *in_block);  // spec indices, block order
    if (!in_block) return ds_err_set(err, DS_ERR_OOM, "parameter block: out of memory");
    int placed = 0;
    for (int k = 0; k < 3; k++) {
        if (order[k] == DS_PARAM_TRAINABLE) pb->train_begin = at;
        if (order[k] == DS_PARAM_BUFFER) pb->buffer_begin = at;
        for (int i = 0; i < pb->count; i++) {
            if (pb->specs[i].kind != order[k]) continue;
            pb->offset[i] = at;
            in_block[placed++] = i;
            at += padded(ds_param_spec_slots(&pb->specs[i]));
        }
        if (order[k] == DS_PARAM_TRAINABLE) pb->train_end = at;
    }
    pb->total = at;
    // lr groups: runs of equal multipliers among the trainable tensors; a multiplier met again
    // after another one is an error (its tensors would not form one range).
    ds_status st = DS_OK;
    pb->groups = calloc((size_t)(pb->count > 0 ? pb->count : 1), sizeof *pb->groups);
    if (!pb->groups) st = ds_err_set(err, DS_ERR_OOM, "parameter block: out of memory");
    for (int j = 0; j < placed && st == DS_OK; j++) {
        const int i = in_block[j];
        const ds_param_spec *s = &pb->specs[i];
        if (s->kind != DS_PARAM_TRAINABLE) continue;
        ds_param_group *g = pb->group_count ? &pb->groups[pb->group_count - 1] : NULL;
        if (g && g->lr_mult == s->lr_mult) {
            g->end = pb->offset[i] + padded(ds_param_spec_slots(s));
            g->last = i;
            continue;
        }
        for (int q = 0; q < pb->group_count; q++)
            if (pb->groups[q].lr_mult == s->lr_mult)
                st = ds_err_set(err, DS_ERR_INVALID_ARG,
                                "parameter block: '%s' has lr multiplier %g, whose group ends before it: the tensors of "
                                "one multiplier must be consecutive", s->name, (double)s->lr_mult);
        pb->groups[pb->group_count++] = (ds_param_group){.begin = pb->offset[i],
                                                         .end = pb->offset[i] + padded(ds_param_spec_slots(s)),
                                                         .first = i, .last = i, .lr_mult = s->lr_mult};
    }
    free(in_block);
    return st;
}

ds_status ds_param_block_init(ds_param_block *pb, const ds_param_spec *specs, int count, ds_err *err) {
    memset(pb, 0, sizeof *pb);
    pb->specs = calloc((size_t)(count > 0 ? count : 1), sizeof *pb->specs);
    pb->offset = calloc((size_t)(count > 0 ? count : 1), sizeof *pb->offset);
    if (!pb->specs || !pb->offset) {
        ds_param_block_free(pb);
        return ds_err_set(err, DS_ERR_OOM, "parameter block: out of memory for %d specs", count);
    }
    for (int i = 0; i < count; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(specs[i].name, specs[j].name) == 0) {
                ds_param_block_free(pb);
                return ds_err_set(err, DS_ERR_INVALID_ARG, "parameter block: duplicate tensor name '%s'",
                                  specs[i].name);
            }
        const bool known_kind = specs[i].kind == DS_PARAM_TRAINABLE || specs[i].kind == DS_PARAM_FROZEN ||
                                specs[i].kind == DS_PARAM_BUFFER;
        if (!known_kind || (int)specs[i].dtype < 0 || specs[i].dtype >= DS_DTYPE_COUNT ||
            (specs[i].kind != DS_PARAM_BUFFER && specs[i].dtype != DS_F32) || !(specs[i].lr_mult >= 0)) {
            ds_param_block_free(pb);
            return ds_err_set(err, DS_ERR_INVALID_ARG,
                              "parameter block: '%s': parameters are F32 with a known kind and an lr multiplier >= 0 "
                              "(buffers may have any dtype)", specs[i].name);
        }
        pb->specs[i] = specs[i];
        if (pb->specs[i].lr_mult == 0) pb->specs[i].lr_mult = 1;
    }
    pb->count = count;
    ds_status st = lay_out(pb, err);
    if (st != DS_OK) {
        ds_param_block_free(pb);
        return st;
    }
    const size_t at = pb->total;
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
    free(pb->groups);
    free(pb->params);
    free(pb->grads);
    memset(pb, 0, sizeof *pb);
}

int ds_param_block_find(const ds_param_block *pb, const char *name) {
    for (int i = 0; i < pb->count; i++)
        if (strcmp(pb->specs[i].name, name) == 0) return i;
    return -1;
}

bool ds_param_is_trainable(const ds_param_block *pb, int i) { return pb->specs[i].kind == DS_PARAM_TRAINABLE; }
bool ds_param_is_buffer(const ds_param_block *pb, int i) { return pb->specs[i].kind == DS_PARAM_BUFFER; }

static ds_tensor view(const ds_param_block *pb, float *base, ds_dtype dtype, int i) {
    const ds_device cpu = {DS_DEVICE_CPU, 0};
    return ds_tensor_make(base + pb->offset[i], dtype, cpu, pb->specs[i].ndim, pb->specs[i].shape);
}

// The absent gradient of a tensor that has none: no data, the parameter's shape.
static ds_tensor no_grad(const ds_param_block *pb, ds_device device, int i) {
    return ds_tensor_make(NULL, DS_F32, device, pb->specs[i].ndim, pb->specs[i].shape);
}

ds_tensor ds_param_block_param(const ds_param_block *pb, int i) { return view(pb, pb->params, pb->specs[i].dtype, i); }
ds_tensor ds_param_block_grad(const ds_param_block *pb, int i) {
    if (!ds_param_is_trainable(pb, i)) return no_grad(pb, (ds_device){DS_DEVICE_CPU, 0}, i);
    return view(pb, pb->grads, DS_F32, i);
}

static bool on_device(const ds_param_block *pb) { return pb->device.kind != DS_DEVICE_CPU; }

static ds_tensor op_view(const ds_param_block *pb, void *base, ds_dtype dtype, int i) {
    // Offsets count 4-byte elements of the F32 arrays; the BF16 copy has 2-byte elements at the
    // same indices.
    const size_t elem = dtype == DS_BF16 ? sizeof(uint16_t) : sizeof(float);
    char *at = base ? (char *)base + pb->offset[i] * elem : NULL;
    return ds_tensor_make(at, dtype, pb->device, pb->specs[i].ndim, pb->specs[i].shape);
}

ds_tensor ds_param_block_op_param(const ds_param_block *pb, int i) {
    return op_view(pb, on_device(pb) ? pb->params_dev : pb->params, pb->specs[i].dtype, i);
}
ds_tensor ds_param_block_op_grad(const ds_param_block *pb, int i) {
    if (!ds_param_is_trainable(pb, i)) return no_grad(pb, pb->device, i);
    return op_view(pb, on_device(pb) ? pb->grads_dev : pb->grads, DS_F32, i);
}
ds_tensor ds_param_block_op_param_bf16(const ds_param_block *pb, int i) {
    if (!on_device(pb) || !pb->params_bf16_dev) return (ds_tensor){0};
    return op_view(pb, pb->params_bf16_dev, DS_BF16, i);
}

ds_tensor ds_param_block_op_weight(const ds_param_block *pb, int i, ds_dtype act) {
    return act == DS_BF16 ? ds_param_block_op_param_bf16(pb, i) : ds_param_block_op_param(pb, i);
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
    for (int i = 0; i < pb->count; i++)
        if (!ds_param_is_buffer(pb, i)) n += ds_param_spec_numel(&pb->specs[i]);
    return n;
}

size_t ds_param_block_trainable_numel(const ds_param_block *pb) {
    size_t n = 0;
    for (int i = 0; i < pb->count; i++)
        if (ds_param_is_trainable(pb, i)) n += ds_param_spec_numel(&pb->specs[i]);
    return n;
}
