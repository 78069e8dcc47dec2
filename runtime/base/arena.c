#include "arena.h"

#include <stdlib.h>
#include <string.h>

ds_arena ds_arena_measure(void) {
    ds_arena a;
    memset(&a, 0, sizeof a);
    a.measuring = 1;
    return a;
}

ds_status ds_arena_init_cpu(ds_arena *a, size_t bytes, ds_err *err) {
    memset(a, 0, sizeof *a);
    const size_t rounded = (bytes + DS_ARENA_ALIGN - 1) / DS_ARENA_ALIGN * DS_ARENA_ALIGN;
    a->base = rounded ? aligned_alloc(DS_ARENA_ALIGN, rounded) : NULL;
    if (rounded && a->base == NULL)
        return ds_err_set(err, DS_ERR_OOM, "activation arena: cannot allocate %zu bytes of host memory", rounded);
    a->size = rounded;
    a->device = (ds_device){DS_DEVICE_CPU, 0};
    return DS_OK;
}

ds_status ds_arena_tensor(ds_arena *a, ds_dtype dtype, int ndim, const int64_t *shape, ds_tensor *out,
                          ds_err *err) {
    size_t bytes = ds_dtype_size(dtype);
    for (int i = 0; i < ndim; i++) bytes *= (size_t)shape[i];
    const size_t need = (bytes + DS_ARENA_ALIGN - 1) / DS_ARENA_ALIGN * DS_ARENA_ALIGN;
    if (!a->measuring && a->used + need > a->size)
        return ds_err_set(err, DS_ERR_OOM,
                          "activation arena full: a %zu-byte activation needs %zu more bytes than the %zu "
                          "planned; the arena is sized once per (batch, length) shape",
                          bytes, a->used + need - a->size, a->size);
    *out = ds_tensor_make(a->measuring ? NULL : a->base + a->used, dtype, a->device, ndim, shape);
    a->used += need;
    if (a->used > a->peak) a->peak = a->used;
    return DS_OK;
}

void ds_arena_reset(ds_arena *a) { a->used = 0; }

void ds_arena_free(ds_arena *a) {
    if (a->dev_release) a->dev_release(a->dev_owner, a->base, a->size);
    else free(a->base);
    memset(a, 0, sizeof *a);
}
