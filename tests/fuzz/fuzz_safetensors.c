// Fuzz target: the safetensors reader (runtime/io/safetensors.h) -- the header's length, JSON,
// dtypes, shapes and data offsets, and the data section. The input is a whole file; every
// tensor the reader accepts is viewed with its dtype and read to its last byte, so an offset
// that points outside the file is an ASan report here. Seeds: tests/fixtures/safetensors.
#include <stdio.h>

#include "../../runtime/io/safetensors.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "safetensors") != 0) return 0;
    if (fuzz_write(dir, "model.safetensors", data, size, path, sizeof path) == 0) {
        ds_st_file f;
        ds_err err = {0};
        if (ds_st_open(path, &f, &err) == DS_OK) {
            volatile unsigned sink = 0;
            for (int i = 0; i < f.count; i++) {
                ds_tensor t;
                if (ds_st_view(&f, f.tensors[i].name, f.tensors[i].dtype, &t, &err) != DS_OK) continue;
                for (size_t k = 0; k < ds_tensor_nbytes(&t); k++) sink += ((const uint8_t *)t.data)[k];
            }
            for (int i = 0; i < f.meta_count; i++) sink += (unsigned)ds_st_meta_get(&f, f.meta[i].key)[0];
            (void)sink;
        }
        ds_st_close(&f);
    }
    fuzz_dir_remove(dir);
    return 0;
}
