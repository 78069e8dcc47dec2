// libFuzzer target for the .pth reader (runtime/io/pth.h). The first input byte picks a mode:
//   0: the rest is a whole file (seeds: tests/fixtures/pth/*.pth)
//   1: the rest is a pickle, wrapped as data.pkl into a torch-style zip with storages "0"
//      (16 F32) and "1" (2 I64), so that mutations reach the unpickler behind a valid archive
//   2: the same pickle in a legacy-format stream (persistent ids with view_metadata)
// Whatever it reads must be refused cleanly or give tensors inside the input; ASan and UBSan
// catch the rest. Built with DS_FUZZ=ON and run by scripts/fuzz.sh; replayed over
// tests/fuzz/corpus/pth by the ctest fuzz_replay_pth.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/pth.h"
#include "../pth_craft.h"

static void read_all(const ds_pth_file *f) {
    volatile unsigned sink = 0;
    for (int i = 0; i < f->count; i++)
        for (size_t k = 0; k < f->tensors[i].nbytes; k++) sink += ((const uint8_t *)f->tensors[i].data)[k];
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const int mode = data[0] % 3;
    const uint8_t *rest = data + 1;
    const size_t n = size - 1;
    ds_pth_file f;
    ds_err err = {0};
    if (mode == 0) {
        if (ds_pth_open_memory(rest, n, "fuzz.pth", &f, &err) == DS_OK) read_all(&f);
        ds_pth_close(&f);
        return 0;
    }
    static const float s0[16] = {0};
    static const int64_t s1[2] = {0};
    const char *keys[] = {"0", "1"};
    const void *storages[] = {s0, s1};
    const size_t sizes[] = {sizeof s0, sizeof s1}, elem[] = {4, 8};
    craft_buf pickle = {.p = (uint8_t *)rest, .len = n, .cap = n}, file = {0};
    if (mode == 1)
        craft_pth_zip(&file, &pickle, 2, keys, storages, sizes);
    else
        craft_pth_legacy(&file, &pickle, 2, keys, storages, sizes, elem);
    if (!file.oom && ds_pth_open_memory(file.p, file.len, "fuzz.pth", &f, &err) == DS_OK) read_all(&f);
    ds_pth_close(&f);
    craft_free(&file);
    return 0;
}
