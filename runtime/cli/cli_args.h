// The options every subcommand shares, parsed in one place so that they mean the same thing
// everywhere:
//   --config FILE      JSON config file (also --config=FILE)
//   --set KEY=VALUE    override one key; repeatable, later wins, wins over the file (also --set=K=V)
//   --quiet            same as --set run.log_level=warn, at its place on the command line
//   --verbose          same as --set run.log_level=debug, at its place on the command line
//   --sweep FILE       a sweep file (runtime/config/sweep.h): this run is its point --sweep-index N,
//                      else $SLURM_ARRAY_TASK_ID (a Slurm job array); the point's values come
//                      after the file and before --set, and the run's output goes to
//                      <train.output_dir>/sweep-<index> unless the point sets train.output_dir
//   --help, -h         the command should print its help
//   --                 everything after it is left to the command
// Every other argument is left, in order, in `rest` for the command to parse. Typical use:
//
//   ds_cli_args a;
//   ds_err err = {0};
//   if (ds_cli_parse(argc, argv, &a, &err) != DS_OK) return ds_cli_fail("bench", &err, 2);
//   if (a.help) { print_help(); ds_cli_args_free(&a); return 0; }
//   ds_config *cfg = NULL;
//   if (ds_cli_load_config(&a, &cfg, &err) != DS_OK) { ds_cli_args_free(&a); return ds_cli_fail("bench", &err, 1); }
//   ... a.rest[0 .. a.nrest) ..., ds_config_int(cfg, "bench.batch") ...
//   ds_config_free(cfg);
//   ds_cli_args_free(&a);
#ifndef DS_CLI_ARGS_H
#define DS_CLI_ARGS_H

#include <stdbool.h>
#include <stdio.h>

#include "../base/context.h"
#include "../base/log.h"
#include "../base/status.h"
#include "../config/config.h"

typedef struct ds_cli_args {
    const char *config_path;  // --config FILE (points into argv); NULL when absent
    const char **sets;        // (nsets) "KEY=VALUE" in command-line order (into argv or literals), heap array
    int nsets;
    bool help;                // --help or -h was given
    const char *sweep_path;   // --sweep FILE (points into argv), or NULL
    const char *sweep_index;  // --sweep-index N (points into argv), or NULL: $SLURM_ARRAY_TASK_ID
    char **rest;              // (nrest) every other argument in order (points into argv), heap array
    int nrest;
} ds_cli_args;

// Parses argv[1 .. argc) (argv[0] is the command's name) into *a. Fails, naming the option, on
// --config or --set without a value, on a second --config, and on --quiet with --verbose.
// On failure *a is left empty (nothing to free).
ds_status ds_cli_parse(int argc, char **argv, ds_cli_args *a, ds_err *err);

void ds_cli_args_free(ds_cli_args *a);

// ds_config_load over a's --config and --set (in order; --quiet/--verbose included), with every
// model family's keys; with --sweep, the sweep point's values too (and its record written to
// <output dir>/sweep_point.json).
ds_status ds_cli_load_config(const ds_cli_args *a, ds_config **out, ds_err *err);

// The log level the config's run.log_level names.
ds_log_level ds_cli_log_level(const ds_config *c);

// Writes the shared options' help lines, for each command's --help.
void ds_cli_print_common_options(FILE *f);

// The start every config-driven command (bench, train, eval) shares: parses the shared options
// (no other argument is allowed), prints `help` on --help, loads the config, sets ctx's log level
// and seed, applies run.threads to OpenMP, prints the resolved config at INFO (on rank 0 only:
// ctx->log.rank). The device (run.device) is opened by the command afterwards
// (runtime/train/run_device.h), since a distributed command needs its rank's place first.
// Returns -1 when the command should go on (then *cfg is loaded: free it), else the exit code.
int ds_cli_start(const char *cmd, int argc, char **argv, void (*help)(void), ds_context *ctx, ds_config **cfg);

// Prints "downstream CMD: <status>: <message>" to stderr and returns exit_code.
int ds_cli_fail(const char *cmd, const ds_err *err, int exit_code);

#endif
