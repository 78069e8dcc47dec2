// The subcommands of `downstream`. Each takes (argc, argv) with argv[0] the command's own name
// and returns the process exit code: 0 success, 1 failure, 2 usage error.
#ifndef DS_COMMANDS_H
#define DS_COMMANDS_H

typedef struct ds_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} ds_command;

int ds_cmd_version(int argc, char **argv);
int ds_cmd_bench(int argc, char **argv);
int ds_cmd_train(int argc, char **argv);
int ds_cmd_inspect(int argc, char **argv);
int ds_cmd_help(int argc, char **argv);
int ds_cmd_config(int argc, char **argv);
int ds_cmd_tokenize(int argc, char **argv);
int ds_cmd_sweep_summary(int argc, char **argv);
int ds_cmd_eval(int argc, char **argv);
int ds_cmd_predict(int argc, char **argv);
int ds_cmd_convert(int argc, char **argv);
int ds_cmd_pull(int argc, char **argv);
int ds_cmd_report(int argc, char **argv);

#endif
