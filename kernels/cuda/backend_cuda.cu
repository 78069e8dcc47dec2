// The CUDA backend table. Its op bodies belong to the CUDA kernels issue; until they land every
// slot is empty and a CUDA tensor reaching an op gets "not available on the cuda backend".
#include <cuda_runtime.h>

#include <stdio.h>

extern "C" {
#include "../../runtime/base/check.h"
#include "../cuda_info.h"
#include "../ops.h"
}

static const ds_backend k_cuda_backend = {"cuda", {}};

extern "C" const ds_backend *ds_backend_cuda(void) { return &k_cuda_backend; }

extern "C" int ds_cuda_device_count(char *why, size_t cap) {
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        if (why && cap) snprintf(why, cap, "no usable CUDA device: %s", cudaGetErrorString(e));
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return 0;
    }
    if (n == 0 && why && cap) snprintf(why, cap, "the CUDA runtime reports no devices");
    return n;
}

static ds_status device_name(int index, char *name, size_t cap, ds_err *err) {
    cudaDeviceProp p;
    DS_CUDA_CHECK(err, cudaGetDeviceProperties(&p, index));
    snprintf(name, cap, "%s (sm_%d%d)", p.name, p.major, p.minor);
    return DS_OK;
}

extern "C" ds_status ds_cuda_device_name(int index, char *name, size_t cap, ds_err *err) {
    return device_name(index, name, cap, err);
}
