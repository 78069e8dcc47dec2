// `downstream config [--config FILE] [--set KEY=VALUE]...`: checks a config without running
// anything and prints it resolved (defaults included), exactly as a run would print it.
#include <stdio.h>

#include "cli_args.h"
#include "commands.h"

static void usage(FILE *f) {
    fprintf(f, "usage: downstream config [--config FILE] [--set KEY=VALUE]...\n\n"
               "Checks the config and prints it resolved as JSON: \"config\" holds every key\n"
               "(defaults included); \"from_file\" and \"from_set\" list the keys that were set.\n\n");
    ds_cli_print_common_options(f);
}

int ds_cmd_config(int argc, char **argv) {
    ds_cli_args a;
    ds_err err = {0};
    if (ds_cli_parse(argc, argv, &a, &err) != DS_OK) return ds_cli_fail("config", &err, 2);
    if (a.nrest > 0) {
        fprintf(stderr, "downstream config: unexpected argument '%s' (see --help)\n", a.rest[0]);
        ds_cli_args_free(&a);
        return 2;
    }
    if (a.help) {
        usage(stdout);
        ds_cli_args_free(&a);
        return 0;
    }
    ds_config *cfg = NULL;
    const ds_status s = ds_cli_load_config(&a, &cfg, &err);
    ds_cli_args_free(&a);
    if (s != DS_OK) return ds_cli_fail("config", &err, 1);
    ds_config_print(cfg, stdout);
    ds_config_free(cfg);
    return 0;
}
