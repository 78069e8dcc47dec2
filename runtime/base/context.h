// The context: everything a call needs that is not its arguments. Passed explicitly by
// pointer; there is no global mutable state anywhere in downstream.
#ifndef DS_CONTEXT_H
#define DS_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "status.h"
#include "tensor.h"

struct ds_cuda_state;  // cuBLASLt/cuDNN handles, streams, workspaces (kernels/cuda), opaque here

typedef struct ds_context {
    ds_log log;
    ds_err err;                  // the first failure of the current call path
    ds_device device;            // where ops run by default
    struct ds_cuda_state *cuda;  // NULL unless device is CUDA
    uint64_t seed;               // base seed of every random stream (Philox key)
    bool deterministic;          // no float atomics, fixed reduction orders
} ds_context;

// A CPU context at INFO level with seed 0.
ds_context ds_context_cpu(void);

#endif
