// Every op has a CPU body (the reference) and a name; the CUDA table has a slot for each op.
#include "../../kernels/ops.h"
#include "../test_util.h"

#include <string.h>

int main(void) {
    ds_test t = ds_test_begin("op_table");
    const ds_backend *cpu = ds_backend_cpu();
    for (int op = 0; op < DS_OP_COUNT; op++) {
        ds_test_check(&t, ds_backend_supports(cpu, (ds_op)op), "cpu backend lacks %s", ds_op_name((ds_op)op));
        ds_test_check(&t, strcmp(ds_op_name((ds_op)op), "?") != 0, "op %d has no name", op);
    }
    ds_test_check(&t, ds_backend_cuda() != NULL, "cuda table missing");
    ds_test_check(&t, !ds_backend_supports(cpu, DS_OP_COUNT), "out-of-range op reported as supported");
    return ds_test_finish(&t);
}
