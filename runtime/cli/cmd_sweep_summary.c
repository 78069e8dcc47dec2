// `downstream sweep-summary DIR...`: one table across the runs of a sweep (or any runs): for each
// run folder (a folder holding sweep-<i> folders stands for all of them), its sweep point's values
// (sweep_point.json), the best dev metric and its step (the train state of checkpoint-best), the
// last logged training loss (metrics.jsonl) and whether the run finished; sorted best first.
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../../data/common/file_read.h"
#include "../io/checkpoint.h"
#include "../io/checkpoint_dir.h"
#include "commands.h"

typedef struct run_row {
    char dir[1024];
    char values[512];   // "train.lr=0.0001 train.batch_size=16", or "-"
    int index;          // the sweep index, or -1
    bool has_best;
    char metric[64];
    double best;
    int64_t best_step;
    double last_loss;
    int64_t last_step;
    bool finished;      // an exported model is there
} run_row;

static bool is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// Lower is better for losses and error rates.
static bool lower_is_better(const char *metric) {
    return strstr(metric, "loss") || strstr(metric, "wer") || strstr(metric, "cer");
}

static void read_point(run_row *r) {
    char path[1100];
    snprintf(path, sizeof path, "%s/sweep_point.json", r->dir);
    snprintf(r->values, sizeof r->values, "-");
    r->index = -1;
    char *text = NULL;
    size_t size = 0;
    if (ds_read_whole_file(path, &text, &size, NULL) != DS_OK) return;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(root, "index");
    const cJSON *values = cJSON_GetObjectItemCaseSensitive(root, "values"), *v;
    if (cJSON_IsNumber(idx)) r->index = (int)idx->valuedouble;
    size_t n = 0;
    r->values[0] = '\0';
    cJSON_ArrayForEach(v, values) {
        char *s = cJSON_PrintUnformatted(v);
        if (s && n < sizeof r->values)
            n += (size_t)snprintf(r->values + n, sizeof r->values - n, "%s%s=%s", n ? " " : "", v->string, s);
        free(s);
    }
    cJSON_Delete(root);
}

static void read_metrics(run_row *r) {
    char path[1100];
    snprintf(path, sizeof path, "%s/metrics.jsonl", r->dir);
    char *text = NULL;
    size_t size = 0;
    r->last_loss = NAN;
    r->last_step = -1;
    if (ds_read_whole_file(path, &text, &size, NULL) != DS_OK) return;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *loss = cJSON_GetObjectItemCaseSensitive(o, "loss"), *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (cJSON_IsNumber(loss) && cJSON_IsNumber(step)) {
            r->last_loss = loss->valuedouble;
            r->last_step = (int64_t)step->valuedouble;
        }
        cJSON_Delete(o);
    }
    free(text);
}

static void read_run(const char *dir, run_row *r) {
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    read_point(r);
    read_metrics(r);
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, DS_CHECKPOINT_BEST_NAME);
    ds_train_state st;
    ds_err err;
    ds_err_clear(&err);
    if (ds_checkpoint_peek_state(path, &st, &err) == DS_OK && st.has_best) {
        r->has_best = true;
        snprintf(r->metric, sizeof r->metric, "%s", st.best_metric_name);
        r->best = st.best_metric;
        r->best_step = st.best_step;
    }
    snprintf(path, sizeof path, "%s/model", dir);
    r->finished = is_dir(path);
}

static int compare_rows(const void *x, const void *y) {
    const run_row *a = x, *b = y;
    if (a->has_best != b->has_best) return a->has_best ? -1 : 1;
    if (a->has_best && a->best != b->best) {
        const bool lower = lower_is_better(a->metric);
        return (lower ? a->best < b->best : a->best > b->best) ? -1 : 1;
    }
    return a->index - b->index;
}

static int cmp_names(const void *x, const void *y) {
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    const bool sa = strncmp(a, "sweep-", 6) == 0, sb = strncmp(b, "sweep-", 6) == 0;
    if (sa && sb) return atoi(a + 6) - atoi(b + 6);
    return strcmp(a, b);
}

// The run folders of one argument: the folder itself, or its sweep-<i> folders.
static int collect(const char *dir, run_row **rows, int *n, int *cap) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "downstream sweep-summary: %s: not a readable folder\n", dir);
        return 1;
    }
    char *names[4096];
    int nn = 0;
    for (struct dirent *e; (e = readdir(d)) && nn < 4096;)
        if (strncmp(e->d_name, "sweep-", 6) == 0) names[nn++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)nn, sizeof *names, cmp_names);
    for (int i = 0; i <= nn; i++) {
        if (i == nn && nn > 0) break;
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *rows = realloc(*rows, (size_t)*cap * sizeof **rows);
        }
        char path[1024];
        if (nn > 0) snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        else snprintf(path, sizeof path, "%s", dir);
        read_run(path, &(*rows)[(*n)++]);
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    return 0;
}

int ds_cmd_sweep_summary(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        printf("usage: downstream sweep-summary DIR...\n\n"
               "One table across training runs: each DIR is a run folder (train.output_dir) or a folder of the\n"
               "sweep-<i> run folders of a sweep (`downstream train --sweep FILE`, one run per Slurm array task).\n"
               "Columns: the sweep index and values (sweep_point.json), the best dev metric and its step\n"
               "(checkpoint-best), the last logged training loss and step, and whether the run finished (an\n"
               "exported model). Best run first.\n");
        return argc < 2 ? 2 : 0;
    }
    run_row *rows = NULL;
    int n = 0, cap = 0, rc = 0;
    for (int i = 1; i < argc; i++) rc |= collect(argv[i], &rows, &n, &cap);
    qsort(rows, (size_t)n, sizeof *rows, compare_rows);
    printf("%-5s %-14s %12s %6s %10s %6s %-8s %-40s %s\n", "index", "metric", "best", "step", "last_loss", "step",
           "status", "values", "run");
    for (int i = 0; i < n; i++) {
        const run_row *r = &rows[i];
        char idx[16], best[32], bstep[24], loss[32], lstep[24];
        snprintf(idx, sizeof idx, r->index >= 0 ? "%d" : "-", r->index);
        snprintf(best, sizeof best, r->has_best ? "%.4f" : "-", r->best);
        snprintf(bstep, sizeof bstep, r->has_best ? "%lld" : "-", (long long)r->best_step);
        snprintf(loss, sizeof loss, isfinite(r->last_loss) ? "%.4f" : "-", r->last_loss);
        snprintf(lstep, sizeof lstep, r->last_step >= 0 ? "%lld" : "-", (long long)r->last_step);
        printf("%-5s %-14s %12s %6s %10s %6s %-8s %-40s %s\n", idx, r->has_best ? r->metric : "-", best, bstep, loss,
               lstep, r->finished ? "finished" : "partial", r->values, r->dir);
    }
    free(rows);
    return rc ? 1 : 0;
}
