#include "cli_args.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tasks/registry.h"

// --quiet and --verbose are spelled as the --set they stand for, so that they take part in
// "later wins" and the printed config shows run.log_level as set from the command line.
static const char k_quiet_set[] = "run.log_level=warn";
static const char k_verbose_set[] = "run.log_level=debug";

// The value of `--name VALUE` or `--name=VALUE` at argv[*i], advancing *i past it; NULL when
// argv[*i] is not this option. *missing is set when the option is there without a value.
static const char *option_value(int argc, char **argv, int *i, const char *name, bool *missing) {
    const char *arg = argv[*i];
    const size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0) return NULL;
    if (arg[n] == '=') return arg + n + 1;
    if (arg[n] != '\0') return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static ds_status parse(int argc, char **argv, ds_cli_args *a, ds_err *err) {
    bool quiet = false, verbose = false, options = true;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        bool missing = false;
        const char *v = NULL;
        if (!options) {
            a->rest[a->nrest++] = argv[i];
        } else if (strcmp(arg, "--") == 0) {
            options = false;
        } else if ((v = option_value(argc, argv, &i, "--config", &missing)) || missing) {
            if (missing || !*v) return ds_err_set(err, DS_ERR_INVALID_ARG, "--config needs a FILE");
            if (a->config_path)
                return ds_err_set(err, DS_ERR_INVALID_ARG, "--config given twice (%s and %s)",
                                  a->config_path, v);
            a->config_path = v;
        } else if ((v = option_value(argc, argv, &i, "--set", &missing)) || missing) {
            if (missing) return ds_err_set(err, DS_ERR_INVALID_ARG, "--set needs KEY=VALUE");
            a->sets[a->nsets++] = v;
        } else if (strcmp(arg, "--quiet") == 0) {
            quiet = true;
            a->sets[a->nsets++] = k_quiet_set;
        } else if (strcmp(arg, "--verbose") == 0) {
            verbose = true;
            a->sets[a->nsets++] = k_verbose_set;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            a->help = true;
        } else {
            a->rest[a->nrest++] = argv[i];
        }
    }
    if (quiet && verbose) return ds_err_set(err, DS_ERR_INVALID_ARG, "--quiet and --verbose contradict each other");
    return DS_OK;
}

ds_status ds_cli_parse(int argc, char **argv, ds_cli_args *a, ds_err *err) {
    memset(a, 0, sizeof *a);
    // Every argument lands in at most one of the two arrays, so argc entries each suffice.
    const size_t cap = argc > 0 ? (size_t)argc : 1;
    a->sets = calloc(cap, sizeof *a->sets);
    a->rest = calloc(cap, sizeof *a->rest);
    if (!a->sets || !a->rest) {
        ds_cli_args_free(a);
        return ds_err_set(err, DS_ERR_OOM, "out of memory parsing %d arguments", argc);
    }
    const ds_status s = parse(argc, argv, a, err);
    if (s != DS_OK) ds_cli_args_free(a);
    return s;
}

void ds_cli_args_free(ds_cli_args *a) {
    if (!a) return;
    free(a->sets);
    free(a->rest);
    memset(a, 0, sizeof *a);
}

ds_status ds_cli_load_config(const ds_cli_args *a, ds_config **out, ds_err *err) {
    ds_config_key_table tables[16];
    const int n = ds_task_config_tables(tables, 16);
    return ds_config_load_tables(out, tables, n, a->config_path, a->sets, a->nsets, err);
}

ds_log_level ds_cli_log_level(const ds_config *c) {
    static const struct {
        const char *name;
        ds_log_level level;
    } levels[] = {{"error", DS_LOG_ERROR}, {"warn", DS_LOG_WARN}, {"info", DS_LOG_INFO}, {"debug", DS_LOG_DEBUG}};
    const char *name = ds_config_str(c, "run.log_level");
    for (size_t i = 0; name && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(name, levels[i].name) == 0) return levels[i].level;
    return DS_LOG_INFO;
}

void ds_cli_print_common_options(FILE *f) {
    fprintf(f,
            "common options:\n"
            "  --config FILE      JSON config file (keys: `downstream help config`)\n"
            "  --set KEY=VALUE    override one config key; repeatable; later wins, and wins over the file\n"
            "  --quiet            only warnings and errors (--set run.log_level=warn)\n"
            "  --verbose          debug output (--set run.log_level=debug)\n"
            "  --help, -h         this help\n");
}

int ds_cli_fail(const char *cmd, const ds_err *err, int exit_code) {
    fprintf(stderr, "downstream %s: %s: %s\n", cmd, ds_status_name(err->status), err->msg);
    return exit_code;
}

int ds_cli_start(const char *cmd, int argc, char **argv, void (*help)(void), ds_context *ctx, ds_config **cfg) {
    *cfg = NULL;
    ds_cli_args a;
    if (ds_cli_parse(argc, argv, &a, &ctx->err) != DS_OK) return ds_cli_fail(cmd, &ctx->err, 2);
    if (a.help) {
        help();
        ds_cli_args_free(&a);
        return 0;
    }
    if (a.nrest > 0) {
        fprintf(stderr, "downstream %s: unexpected argument '%s' (see --help)\n", cmd, a.rest[0]);
        ds_cli_args_free(&a);
        return 2;
    }
    const ds_status st = ds_cli_load_config(&a, cfg, &ctx->err);
    ds_cli_args_free(&a);
    if (st != DS_OK) return ds_cli_fail(cmd, &ctx->err, 2);
    ctx->log.level = ds_cli_log_level(*cfg);
    ctx->seed = (uint64_t)ds_config_int(*cfg, "run.seed");
    const int threads = (int)ds_config_int(*cfg, "run.threads");
    if (threads > 0) omp_set_num_threads(threads);
    if (ctx->log.level >= DS_LOG_INFO && ctx->log.rank == 0) {  // rank 0 speaks for a distributed job
        fprintf(stderr, "resolved config:\n");
        ds_config_print(*cfg, stderr);
    }
    return -1;
}
