// Fuzz target: sweep files (runtime/config/sweep.h): {"grid": ...} or {"runs": [...]}. The first
// input byte picks the point's index (0..15), the rest is the file; every point the reader
// returns is then resolved as --set values by the config, as `--sweep` does.
#include "../../runtime/config/config.h"
#include "../../runtime/config/sweep.h"
#include "../../runtime/tasks/registry.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "sweep") != 0) return 0;
    if (fuzz_write(dir, "sweep.json", data + 1, size - 1, path, sizeof path) == 0) {
        ds_sweep_point p;
        ds_err err = {0};
        if (ds_sweep_point_load(path, data[0] % 16, &p, &err) == DS_OK) {
            ds_config_key_table tables[16];
            const int ntables = ds_task_config_tables(tables, 16);
            ds_config *cfg = NULL;
            if (ds_config_load_tables(&cfg, tables, ntables, NULL, (const char *const *)p.sets, p.nsets, &err) == DS_OK)
                ds_config_free(cfg);
            ds_sweep_point_free(&p);
        }
    }
    fuzz_dir_remove(dir);
    return 0;
}
