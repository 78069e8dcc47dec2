// `downstream eval --config FILE [--set KEY=VALUE ...]`: evaluates a fine-tuned model of any family
// (runtime/train/eval_command.h over the task table) and prints its metrics and report.
#include <omp.h>
#include <stdio.h>

#include "../train/eval_command.h"
#include "../train/run_device.h"
#include "cli_args.h"
#include "commands.h"

static void help(void) {
    printf("usage: downstream eval --config FILE [--set KEY=VALUE ...]\n\n"
           "Evaluates the fine-tuned model of model.path (for task.type text_classification, the default: a\n"
           "Hugging Face BERT directory such as the <train.output_dir>/model that `downstream train`\n"
           "exports) on data.dev and/or data.test; when\n"
           "neither is given, on the dev and test parts of data.train, split by data.split, data.stratified\n"
           "and run.seed exactly as training split it. Labels map to the model's classes (config.json's\n"
           "id2label). Batches of train.batch_size, model.max_length tokens: the training config with\n"
           "--set model.path=<train.output_dir>/model reproduces the trainer's final dev and test figures.\n"
           "Prints the loss and metrics of each set and, for single-label classification, per-class\n"
           "precision, recall, F1 and the confusion matrix.\n\n");
    ds_cli_print_common_options(stdout);
}

static void print_eval(const char *what, const ds_eval_result *r) {
    printf("%s (%lld examples):", what, (long long)r->examples);
    for (int i = 0; i < r->count; i++) printf(" %s %.4f", r->values[i].name, r->values[i].value);
    printf("\n");
    if (r->report) fputs(r->report, stdout);
}

int ds_cmd_eval(int argc, char **argv) {
    ds_context ctx = ds_context_cpu();
    ds_config *cfg = NULL;
    const int early = ds_cli_start("eval", argc, argv, help, &ctx, &cfg);
    if (early >= 0) return early;
    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("eval", &ctx.err, 2);
    }
    ds_eval_summary s;
    const ds_status st = ds_eval_model(&ctx, cfg, &s);
    int rc = 0;
    if (st != DS_OK) {
        rc = ds_cli_fail("eval", &ctx.err, 1);
    } else {
        printf("model: %s\n", ds_config_str(cfg, "model.path"));
        if (s.has_dev) print_eval("dev", &s.dev);
        if (s.has_test) print_eval("test", &s.test);
    }
    ds_eval_summary_free(&s);
    ds_run_device_close(&ctx);
    ds_config_free(cfg);
    return rc;
}
