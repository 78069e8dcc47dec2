// The activation arena: one allocation, sized once for the largest (batch, length) shape, from
// which every activation of a step is carved by bumping an offset. A "measuring" arena (no
// memory) runs the same carving to learn the size before the real one is allocated.
#ifndef DS_ARENA_H
#define DS_ARENA_H

#include <stddef.h>

#include "status.h"
#include "tensor.h"

#define DS_ARENA_ALIGN 256  // bytes; enough for AVX-512 and for CUDA's coalescing and cp.async

typedef struct ds_arena {
    ds_device device;
    char *base;      // (size) host memory (CPU) or device memory (CUDA), or NULL when measuring
    size_t size;     // capacity in bytes (0 when measuring)
    size_t used;     // bytes carved since the last reset
    size_t peak;     // largest `used` seen
    int measuring;   // 1: count bytes only
    // A device arena (models/common/device_memory.h: ds_arena_init_device) is freed through this, with
    // the context that owns the memory; NULL for host memory. (This file is in the base layer,
    // below kernels/, so it cannot call the device allocator itself.)
    void (*dev_release)(void *dev_owner, void *dev_ptr, size_t bytes);
    void *dev_owner;
} ds_arena;

// An arena that only counts.
ds_arena ds_arena_measure(void);

// Allocates `bytes` of host memory for a CPU arena.
ds_status ds_arena_init_cpu(ds_arena *a, size_t bytes, ds_err *err);

// Carves a contiguous tensor of the given shape; fails with the bytes needed and left when full.
// In a measuring arena the tensor's data is NULL.
ds_status ds_arena_tensor(ds_arena *a, ds_dtype dtype, int ndim, const int64_t *shape, ds_tensor *out,
                          ds_err *err);

// Forgets every carve (the memory is reused by the next step).
void ds_arena_reset(ds_arena *a);

void ds_arena_free(ds_arena *a);

#endif
