// Placeholder until the safetensors reader and writer land.
#include "safetensors.h"

#include <string.h>

ds_status ds_st_open(const char *path, ds_st_file *f, ds_err *err) {
    memset(f, 0, sizeof *f);
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "%s: safetensors reader not implemented yet", path);
}
void ds_st_close(ds_st_file *f) { memset(f, 0, sizeof *f); }
const ds_st_tensor *ds_st_find(const ds_st_file *f, const char *name) {
    (void)f;
    (void)name;
    return NULL;
}
const char *ds_st_meta_get(const ds_st_file *f, const char *key) {
    (void)f;
    (void)key;
    return NULL;
}
ds_status ds_st_view(const ds_st_file *f, const char *name, ds_dtype dtype, ds_tensor *out, ds_err *err) {
    (void)f;
    (void)dtype;
    (void)out;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "%s: safetensors reader not implemented yet", name);
}
ds_status ds_st_write(const char *path, const ds_st_entry *entries, int count, const ds_st_meta *meta,
                      int meta_count, ds_err *err) {
    (void)entries;
    (void)count;
    (void)meta;
    (void)meta_count;
    return ds_err_set(err, DS_ERR_UNSUPPORTED, "%s: safetensors writer not implemented yet", path);
}
