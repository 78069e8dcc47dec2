// Placeholder until the safetensors writer lands.
#include "safetensors.h"

ds_status ds_st_write(const char *path, const ds_st_entry *entries, int count, const ds_st_meta *meta,
                      int meta_count, ds_err *err) {
    (void)entries;
    (void)count;
    (void)meta;
    (void)meta_count;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "%s: safetensors writer not implemented yet", path);
}
