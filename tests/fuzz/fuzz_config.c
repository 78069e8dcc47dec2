// Fuzz target: the config (runtime/config/config.h) -- the JSON file and the --set values, over
// every key table the CLI loads (the drivers' and each model family's). The input's parts,
// separated by NUL bytes: the JSON file, then up to 8 --set values ("train.lr=3e-5"). An empty
// first part means no file. Seeds: configs/*.json with a few --set values.
#include <stdlib.h>

#include "../../runtime/config/config.h"
#include "../../runtime/tasks/registry.h"
#include "fuzz_util.h"

#define MAX_SETS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *part[MAX_SETS + 1];
    size_t len[MAX_SETS + 1];
    const int n = fuzz_split(data, size, part, len, MAX_SETS + 1);
    char *sets[MAX_SETS];
    int nsets = 0;
    for (int i = 1; i < n; i++)
        if ((sets[nsets] = fuzz_cstr(part[i], len[i])) != NULL) nsets++;
    char dir[512], path[1024];
    const char *json = NULL;
    if (fuzz_dir_make(dir, sizeof dir, "config") == 0) {
        if (len[0] > 0 && fuzz_write(dir, "config.json", part[0], len[0], path, sizeof path) == 0) json = path;
        ds_config_key_table tables[16];
        const int ntables = ds_task_config_tables(tables, 16);
        ds_config *cfg = NULL;
        ds_err err = {0};
        if (ds_config_load_tables(&cfg, tables, ntables, json, (const char *const *)sets, nsets, &err) == DS_OK)
            ds_config_free(cfg);
        fuzz_dir_remove(dir);
    }
    for (int i = 0; i < nsets; i++) free(sets[i]);
    return 0;
}
