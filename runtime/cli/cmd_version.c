#include <stdio.h>

#include "../../kernels/cuda_info.h"
#include "commands.h"

int ds_cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    char why[256] = "";
    const int n = ds_cuda_device_count(why, sizeof why);
#ifdef DS_HAVE_CUDA
    const char *cuda = "built";
#else
    const char *cuda = "not built";
#endif
    printf("downstream 0.1.0\ncuda backend: %s; devices visible: %d%s%s\n", cuda, n, n ? "" : " (",
           n ? "" : why);
    if (!n) printf(")\n");
    return 0;
}
