// downstream: the one binary. Subcommands are dispatched from a table; each lives in its own
// cmd_*.c file and returns an exit code. Only this file (and nothing in the library) exits.
#include <stdio.h>
#include <string.h>

#include "blas_fastpath.h"
#include "../train/preempt.h"
#include "commands.h"

static const ds_command k_commands[] = {
    {"train", "fine-tune a pretrained model of the config's family (task.type; default: BERT text classification)", ds_cmd_train},
    {"eval", "evaluate a fine-tuned model on dev/test data: metrics, per-class report (--config FILE)", ds_cmd_eval},
    {"predict", "classify texts with a fine-tuned model, one JSON line each (--model DIR --input FILE)", ds_cmd_predict},
    {"bench", "time a fine-tuning step (forward, backward, AdamW) and print JSON", ds_cmd_bench},
    {"version", "print the version and build features", ds_cmd_version},
    {"inspect", "check safetensors files and list their tensors", ds_cmd_inspect},
    {"convert", "PyTorch checkpoint (.pth) to safetensors, read without executing anything", ds_cmd_convert},
    {"sweep-summary", "one table across the runs of a sweep (best metric, values, status): DIR...", ds_cmd_sweep_summary},
    {"help", "reference pages: `downstream help config` lists every config key", ds_cmd_help},
    {"config", "check a config (--config FILE, --set KEY=VALUE) and print it resolved", ds_cmd_config},
    {"tokenize", "text lines on stdin to BERT input ids (JSON lines), as BertTokenizerFast", ds_cmd_tokenize},
    {"pull", "download a Hub model or torchvision weights into the shared caches (ID: org/name, arch.WEIGHTS)", ds_cmd_pull},
    {"report", "one self-contained HTML page about a training run (curves, confusion matrix, samples)", ds_cmd_report},
};

static void usage(FILE *f) {
    fprintf(f, "usage: downstream <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        fprintf(f, "  %-10s %s\n", k_commands[i].name, k_commands[i].summary);
    fprintf(f, "\n`downstream <command> --help` describes a command.\n");
}

int main(int argc, char **argv) {
    // `train` reads SIGUSR1/SIGTERM (Slurm's preemption warning) from a signalfd: they must be
    // blocked before any thread exists, and the BLAS self-check below starts OpenMP's.
    if (argc >= 2 && strcmp(argv[1], "train") == 0) {
        ds_err err;
        ds_err_clear(&err);
        if (ds_preempt_block(&err) != DS_OK) fprintf(stderr, "downstream: %s\n", err.msg);
    }
    ds_blas_fast_path(argv);  // then: OpenBLAS reads its kernel choice when it loads
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof k_commands / sizeof k_commands[0]; i++)
        if (strcmp(argv[1], k_commands[i].name) == 0) return k_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "downstream: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
