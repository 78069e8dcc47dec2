#include "context.h"

ds_context ds_context_cpu(void) {
    ds_context c = {.log = ds_log_default(), .device = {DS_DEVICE_CPU, 0}, .cuda = NULL, .seed = 0,
                    .deterministic = true};
    ds_err_clear(&c.err);
    return c;
}
