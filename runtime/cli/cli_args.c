#include "cli_args.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config/sweep.h"
#include "../io/fs.h"
#include "../tasks/registry.h"
#include "../base/check.h"

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
        } else if ((v = option_value(argc, argv, &i, "--sweep-index", &missing)) || missing) {
            if (missing || !*v) return ds_err_set(err, DS_ERR_INVALID_ARG, "--sweep-index needs a number");
            a->sweep_index = v;
        } else if ((v = option_value(argc, argv, &i, "--sweep", &missing)) || missing) {
            if (missing || !*v) return ds_err_set(err, DS_ERR_INVALID_ARG, "--sweep needs a FILE");
            a->sweep_path = v;
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

// The sweep index: --sweep-index, else the job array's task id.
static ds_status sweep_index(const ds_cli_args *a, int *index, ds_err *err) {
    const char *text = a->sweep_index ? a->sweep_index : getenv("SLURM_ARRAY_TASK_ID");
    DS_REQUIRE(err, text && *text, DS_ERR_INVALID_ARG,
               "--sweep %s: which point? give --sweep-index N, or run it as a Slurm job array (SLURM_ARRAY_TASK_ID)",
               a->sweep_path);
    char *end = NULL;
    const long v = strtol(text, &end, 10);
    DS_REQUIRE(err, end != text && *end == '\0' && v >= 0 && v < 1000000000, DS_ERR_INVALID_ARG,
               "sweep index '%s' is not a non-negative integer", text);
    *index = (int)v;
    return DS_OK;
}

static bool sets_key(char *const *sets, int n, const char *key) {
    const size_t k = strlen(key);
    for (int i = 0; i < n; i++)
        if (strncmp(sets[i], key, k) == 0 && sets[i][k] == '=') return true;
    return false;
}

ds_status ds_cli_load_config(const ds_cli_args *a, ds_config **out, ds_err *err) {
    ds_config_key_table tables[16];
    const int n = ds_task_config_tables(tables, 16);
    if (!a->sweep_path) return ds_config_load_tables(out, tables, n, a->config_path, a->sets, a->nsets, err);
    int index = 0;
    DS_TRY(sweep_index(a, &index, err));
    ds_sweep_point p;
    DS_TRY(ds_sweep_point_load(a->sweep_path, index, &p, err));
    // The file, then the point's values, then the command line's --set; then the run's folder.
    const char **sets = calloc((size_t)(p.nsets + a->nsets + 1), sizeof *sets);
    char dir_set[4200];
    ds_status st = sets ? DS_OK : ds_err_set(err, DS_ERR_OOM, "out of memory");
    int ns = 0;
    for (int i = 0; st == DS_OK && i < p.nsets; i++) sets[ns++] = p.sets[i];
    for (int i = 0; st == DS_OK && i < a->nsets; i++) sets[ns++] = a->sets[i];
    if (st == DS_OK && !sets_key(p.sets, p.nsets, "train.output_dir")) {
        ds_config *base = NULL;
        st = ds_config_load_tables(&base, tables, n, a->config_path, sets, ns, err);
        if (st == DS_OK) {
            snprintf(dir_set, sizeof dir_set, "train.output_dir=%s/sweep-%d", ds_config_str(base, "train.output_dir"), index);
            sets[ns++] = dir_set;
        }
        ds_config_free(base);
    }
    if (st == DS_OK) st = ds_config_load_tables(out, tables, n, a->config_path, sets, ns, err);
    if (st == DS_OK) {
        // The point's record beside the run's checkpoints (every rank writes the same bytes atomically).
        char path[4200];
        const char *dir = ds_config_str(*out, "train.output_dir");
        snprintf(path, sizeof path, "%s/sweep_point.json", dir);
        st = ds_mkdirs(dir, err);
        if (st == DS_OK) st = ds_write_file_atomic(path, p.json, strlen(p.json), err);
        if (st != DS_OK) {
            ds_config_free(*out);
            *out = NULL;
        }
    }
    free(sets);
    ds_sweep_point_free(&p);
    return st;
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
            "  --sweep FILE       run one point of a sweep file (--sweep-index N, else $SLURM_ARRAY_TASK_ID)\n"
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
