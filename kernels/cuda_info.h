// What CUDA devices this process can see; callable from C whether or not CUDA was built.
#ifndef DS_CUDA_INFO_H
#define DS_CUDA_INFO_H

#include <stddef.h>
#include <stdio.h>

#include "../runtime/base/status.h"

// Number of usable CUDA devices; 0 with the reason in `why` (may be NULL) when there are none.
int ds_cuda_device_count(char *why, size_t cap);

// The device's marketing name and compute capability, e.g. "NVIDIA H200 (sm_90)".
ds_status ds_cuda_device_name(int index, char *name, size_t cap, ds_err *err);

#endif
