// The CUDA backend of a build made without nvcc: a table with every slot empty, so that a
// CUDA tensor reaching an op gets "not available on the cuda backend" rather than a crash.
#include "../cuda_info.h"
#include "../ops.h"

static const ds_backend k_cuda_absent = {.name = "cuda (not built)"};

const ds_backend *ds_backend_cuda(void) { return &k_cuda_absent; }

int ds_cuda_device_count(char *why, size_t cap) {
    if (why && cap) snprintf(why, cap, "this build has no CUDA backend (nvcc was not found)");
    return 0;
}

ds_status ds_cuda_device_name(int index, char *name, size_t cap, ds_err *err) {
    (void)name;
    (void)cap;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "cuda:%d: this build has no CUDA backend", index);
}
