// `downstream predict --model DIR --input FILE [--output FILE] [--config FILE] [--set KEY=VALUE ...]`:
// runs a fine-tuned classifier over a file (or stdin) and writes one JSON line per example
// (runtime/tasks/text/predict.h).
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tasks/text/predict.h"
#include "../train/run_device.h"
#include "../tasks/text/text_task.h"
#include "cli_args.h"
#include "commands.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: downstream predict --model DIR --input FILE [--output FILE] [--batch-size N] [--max-length N]\n"
            "                          [--config FILE] [--set KEY=VALUE ...]\n\n"
            "Runs the fine-tuned classifier in DIR (a Hugging Face BERT directory, such as\n"
            "<train.output_dir>/model that `downstream train` exports) over the examples of FILE and writes\n"
            "one JSON line per example, in input order, to stdout or --output:\n"
            "  single-label:  {\"text\", \"label\": class name, \"probabilities\": softmax, \"logits\"}\n"
            "  multi-label:   {\"text\", \"labels\": [classes with sigmoid >= 0.5], \"probabilities\", \"logits\"}\n"
            "  regression:    {\"text\", \"value\", \"logits\"}\n"
            "(with \"text_pair\" for sentence pairs). Class names come from DIR/config.json's id2label.\n\n"
            "Input: a .txt file or - (stdin): one example per line, a TAB before the second text of a pair,\n"
            "empty lines skipped. Otherwise CSV, TSV or JSONL read as training reads them (the data.* keys:\n"
            "data.text_field, data.text_pair_field, data.header, data.format, ...); the label field is not\n"
            "needed (and ignored when present). With --config, the training config can be reused as is.\n\n"
            "options:\n"
            "  --model DIR        the fine-tuned model (default: model.path of the config)\n"
            "  --input FILE       the examples; - reads stdin (as plain lines unless data.format says otherwise)\n"
            "  --output FILE      write the JSON lines here instead of stdout\n"
            "  --batch-size N     examples per forward pass (default: train.batch_size)\n"
            "  --max-length N     tokens per example after truncation (default: model.max_length)\n");
    ds_cli_print_common_options(f);
}

// "--name VALUE" or "--name=VALUE" at rest[*i]: *value set and *i advanced past it. 0: not this
// option; -1: the option without a value.
static int option(char **rest, int n, int *i, const char *name, const char **value) {
    const size_t len = strlen(name);
    if (strncmp(rest[*i], name, len) != 0) return 0;
    if (rest[*i][len] == '=') {
        *value = rest[*i] + len + 1;
        return 1;
    }
    if (rest[*i][len] != '\0') return 0;
    if (*i + 1 >= n) return -1;
    *value = rest[++*i];
    return 1;
}

static bool positive_int(const char *s, long long *out) {
    char *end = NULL;
    errno = 0;
    const long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < 1) return false;
    *out = v;
    return true;
}

typedef struct predict_args {
    const char *model, *input, *output;
    long long batch_size, max_length;  // 0: from the config
} predict_args;

// The command's own options from a.rest; 0 or the usage exit code 2 (message printed).
static int parse_own(const ds_cli_args *a, predict_args *p) {
    memset(p, 0, sizeof *p);
    for (int i = 0; i < a->nrest; i++) {
        const char *v = NULL, *arg = a->rest[i];
        int r;
        if ((r = option(a->rest, a->nrest, &i, "--model", &v)) > 0) {
            p->model = v;
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--input", &v)) > 0) {
            p->input = v;
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--output", &v)) > 0) {
            p->output = v;
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--batch-size", &v)) > 0) {
            if (!positive_int(v, &p->batch_size)) {
                fprintf(stderr, "downstream predict: --batch-size needs a positive integer, got '%s'\n", v);
                return 2;
            }
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--max-length", &v)) > 0) {
            if (!positive_int(v, &p->max_length) || p->max_length < 2) {
                fprintf(stderr, "downstream predict: --max-length needs an integer >= 2 ([CLS] and [SEP]), got '%s'\n",
                        v);
                return 2;
            }
        } else {
            fprintf(stderr, "downstream predict: %s '%s' (see --help)\n",
                    r < 0 ? "missing value after" : "unknown argument", arg);
            return 2;
        }
    }
    return 0;
}

int ds_cmd_predict(int argc, char **argv) {
    ds_context ctx = ds_context_cpu();
    ds_cli_args a;
    if (ds_cli_parse(argc, argv, &a, &ctx.err) != DS_OK) return ds_cli_fail("predict", &ctx.err, 2);
    if (a.help) {
        help(stdout);
        ds_cli_args_free(&a);
        return 0;
    }
    predict_args p;
    int rc = parse_own(&a, &p);
    ds_config *cfg = NULL;
    if (rc == 0 && ds_cli_load_config(&a, &cfg, &ctx.err) != DS_OK) rc = ds_cli_fail("predict", &ctx.err, 2);
    ds_cli_args_free(&a);  // p's strings point into argv, not into a
    if (rc != 0) return rc;
    if (!p.model && ds_config_str(cfg, "model.path")[0]) p.model = ds_config_str(cfg, "model.path");
    if (!p.model || !p.input) {
        fprintf(stderr, "downstream predict: %s is required (see --help)\n", !p.model ? "--model DIR" : "--input FILE");
        ds_config_free(cfg);
        return 2;
    }
    ctx.log.level = ds_cli_log_level(cfg);
    const int threads = (int)ds_config_int(cfg, "run.threads");
    if (threads > 0) omp_set_num_threads(threads);
    const size_t batch = (size_t)(p.batch_size ? p.batch_size : ds_config_int(cfg, "train.batch_size"));
    const int64_t max_length = p.max_length ? p.max_length : ds_config_int(cfg, "model.max_length");

    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("predict", &ctx.err, 2);
    }
    ds_text_dataset_options dopt;
    ds_text_dataset data = {0};
    ds_predictor pred = {0};
    FILE *out = stdout;
    ds_status st = ds_text_task_dataset_options(cfg, &dopt, &ctx.err);
    if (st == DS_OK) st = ds_predictor_load(&ctx, p.model, batch, max_length, &pred);
    if (st == DS_OK) dopt.problem_type = pred.problem_type;
    if (st == DS_OK) st = ds_predict_read_input(p.input, &dopt, &data, &ctx.err);
    if (st == DS_OK && data.skipped) {
        char skip[1400];
        DS_LOG_WARN(&ctx.log, "%s", ds_text_dataset_skip_summary(&data, skip, sizeof skip));
    }
    if (st == DS_OK && p.output && !(out = fopen(p.output, "w"))) {
        out = stdout;
        st = ds_err_set(&ctx.err, DS_ERR_IO, "%s: cannot write: %s", p.output, strerror(errno));
    }
    const double t0 = ds_now_seconds();
    ds_predict_stats stats = {0};
    if (st == DS_OK) {
        DS_LOG_INFO(&ctx.log, "predicting %zu examples of %s with %s (%lld %s, batch %zu, max length %lld)", data.count,
                    data.source, p.model, (long long)pred.num_labels,
                    pred.problem_type == DS_PROBLEM_REGRESSION ? "output" : "classes", pred.batch_size,
                    (long long)pred.max_length);
        st = ds_predict_dataset(&ctx, &pred, &data, out, &stats);
    }
    if (out != stdout && fclose(out) != 0 && st == DS_OK)
        st = ds_err_set(&ctx.err, DS_ERR_IO, "%s: cannot write: %s", p.output, strerror(errno));
    if (out == stdout && fflush(stdout) != 0 && st == DS_OK)
        st = ds_err_set(&ctx.err, DS_ERR_IO, "stdout: cannot write: %s", strerror(errno));
    if (st == DS_OK) {
        if (stats.truncated)
            DS_LOG_INFO(&ctx.log, "%lld examples truncated to %lld tokens", (long long)stats.truncated,
                        (long long)pred.max_length);
        DS_LOG_INFO(&ctx.log, "%zu predictions in %.2f s%s%s", stats.examples, ds_now_seconds() - t0,
                    p.output ? " written to " : "", p.output ? p.output : "");
    }
    rc = st == DS_OK ? 0 : ds_cli_fail("predict", &ctx.err, 1);
    ds_predictor_free(&pred);
    ds_text_dataset_free(&data);
    ds_run_device_close(&ctx);
    ds_config_free(cfg);
    return rc;
}
