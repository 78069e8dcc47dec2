// `downstream predict --model PATH --input INPUT [--output OUT] [--save-logits DIR] ...`: runs a
// trained model over its inputs. The model family comes from task.type when the config sets it,
// else from the model itself (each family's `recognizes`, runtime/tasks/registry.h), else the
// default family; the family does the rest (runtime/tasks/task.h: predict).
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hub/hub.h"
#include "../train/run_device.h"
#include "../tasks/registry.h"
#include "cli_args.h"
#include "commands.h"

static void help(FILE *f) {
    fprintf(f,
            "usage: downstream predict --model PATH --input INPUT [--output OUT] [--save-logits [DIR]]\n"
            "                          [--batch-size N] [--max-length N] [--resize N] [--overlay]\n"
            "                          [--config FILE] [--set KEY=VALUE ...]\n\n"
            "Runs a trained model over INPUT. The model family is task.type when the config sets it, else the\n"
            "family the model at PATH belongs to (a BERT directory: config.json with model_type \"bert\").\n\n"
            "Text classifiers (a Hugging Face BERT directory, such as <train.output_dir>/model that\n"
            "`downstream train` exports): one JSON line per example, in input order, to stdout or --output:\n"
            "  single-label:  {\"text\", \"label\": class name, \"probabilities\": softmax, \"logits\"}\n"
            "  multi-label:   {\"text\", \"labels\": [classes with sigmoid >= 0.5], \"probabilities\", \"logits\"}\n"
            "  regression:    {\"text\", \"value\", \"logits\"}\n"
            "(with \"text_pair\" for sentence pairs). Class names come from PATH/config.json's id2label.\n"
            "INPUT: a .txt file or - (stdin): one example per line, a TAB before the second text of a pair,\n"
            "empty lines skipped. Otherwise CSV, TSV or JSONL read as training reads them (the data.* keys:\n"
            "data.text_field, data.text_pair_field, data.header, data.format, ...); the label field is not\n"
            "needed (and ignored when present). With --config, the training config can be reused as is.\n\n"
            "Speech recognisers (a Wav2Vec2ForCTC directory, config.json architectures): INPUT is an audio\n"
            "file, a folder of .wav/.flac/.ogg files or a CSV/TSV/JSONL manifest (data.audio_field); one line\n"
            "{\"audio\", \"text\", \"seconds\"} per file (greedy CTC); --save-logits DIR writes\n"
            "DIR/<stem>.safetensors with \"logits\" (1, T, V) F32.\n\n"
            "options:\n"
            "  --model PATH       the trained model (default: model.path of the config)\n"
            "  --input INPUT      the examples; - reads stdin (text: plain lines unless data.format says otherwise)\n"
            "  --output OUT       text: write the JSON lines here instead of stdout\n"
            "  --save-logits DIR  also write the raw outputs as safetensors into DIR (text: DIR/logits.safetensors,\n"
            "                     \"logits\" (N, classes) F32 in input order)\n"
            "  --batch-size N     examples per forward pass (default: train.batch_size)\n"
            "  --max-length N     text: tokens per example after truncation (default: model.max_length)\n"
            "  --resize N         segmentation: resize the shorter side to N before predicting\n"
            "  --overlay          segmentation: also write each mask blended over its photo\n");
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
    const char *model, *input, *output, *save_logits;
    long long batch_size, max_length, resize;  // 0: from the config / not given
    bool overlay;
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
        } else if (r == 0 && strcmp(arg, "--overlay") == 0) {
            p->overlay = true;
        } else if (r == 0 && strcmp(arg, "--save-logits") == 0 && (i + 1 >= a->nrest || a->rest[i + 1][0] == '-')) {
            p->save_logits = "";  // no folder: the family's default (segmentation: --output's)
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--save-logits", &v)) > 0) {
            p->save_logits = v;
        } else if (r == 0 && (r = option(a->rest, a->nrest, &i, "--resize", &v)) > 0) {
            if (!positive_int(v, &p->resize)) {
                fprintf(stderr, "downstream predict: --resize needs a positive integer, got '%s'\n", v);
                return 2;
            }
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
        fprintf(stderr, "downstream predict: %s is required (see --help)\n", !p.model ? "--model PATH" : "--input INPUT");
        ds_config_free(cfg);
        return 2;
    }
    ctx.log.level = ds_cli_log_level(cfg);
    ctx.seed = (uint64_t)ds_config_int(cfg, "run.seed");
    const int threads = (int)ds_config_int(cfg, "run.threads");
    if (threads > 0) omp_set_num_threads(threads);
    // A Hub id or torchvision name: its files in the shared cache (runtime/hub/hub.h); the family's
    // files when task.type is set, else by the model's config.json.
    char model_dir[4096];
    const char *task = ds_config_source_of(cfg, "task.type") == DS_CFG_FROM_DEFAULT ? NULL : ds_config_str(cfg, "task.type");
    if (ds_hub_resolve(&ctx.log, p.model, task, model_dir, sizeof model_dir, &ctx.err) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("predict", &ctx.err, 1);
    }
    p.model = model_dir;
    // The family: task.type when set, else the one that recognises the model, else the default.
    const ds_task_family *family = NULL;
    if (ds_config_source_of(cfg, "task.type") == DS_CFG_FROM_DEFAULT) family = ds_task_family_for_model(p.model);
    if (!family && ds_task_family_of_config(cfg, &family, &ctx.err) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("predict", &ctx.err, 2);
    }
    ds_run_device dev;
    if (ds_run_device_open(&ctx, cfg, NULL, &dev) != DS_OK) {
        ds_config_free(cfg);
        return ds_cli_fail("predict", &ctx.err, 2);
    }
    const ds_predict_args pa = {
        .model = p.model, .input = p.input, .output = p.output,
        .save_logits = p.save_logits, .batch_size = p.batch_size ? p.batch_size : ds_config_int(cfg, "train.batch_size"),
        .max_length = p.max_length, .resize = p.resize, .overlay = p.overlay,
    };
    const ds_status st = family->predict(&ctx, cfg, &pa);
    rc = st == DS_OK ? 0 : ds_cli_fail("predict", &ctx.err, st == DS_ERR_CONFIG ? 2 : 1);
    ds_run_device_close(&ctx);
    ds_config_free(cfg);
    return rc;
}
