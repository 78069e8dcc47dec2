// Reports whether a CUDA device is visible. Skipped (exit 77) where none is; on a GPU machine it
// checks that the device answers with a name.
#include "../../kernels/cuda_info.h"
#include "../test_util.h"

int main(void) {
    char why[256] = "";
    const int n = ds_cuda_device_count(why, sizeof why);
    if (n == 0) {
        printf("cuda_present: skipped: %s\n", why);
        return DS_TEST_SKIP;
    }
    ds_test t = ds_test_begin("cuda_present");
    char name[256];
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(&t, ds_cuda_device_name(0, name, sizeof name, &err) == DS_OK, "device name: %s", err.msg);
    printf("cuda:0 is %s\n", name);
    return ds_test_finish(&t);
}
