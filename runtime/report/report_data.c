// Reading a run directory for the report: metrics.jsonl into one series per key, and the JSON
// files of runtime/train/run_files.h as they are.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/common/file_read.h"
#include "../base/check.h"
#include "report_internal.h"

static rp_series *series_of(rp_run *run, const char *name) {
    for (int i = 0; i < run->nseries; i++)
        if (strcmp(run->series[i].name, name) == 0) return &run->series[i];
    rp_series *grown = realloc(run->series, (size_t)(run->nseries + 1) * sizeof *grown);
    if (!grown) return NULL;
    run->series = grown;
    rp_series *s = &run->series[run->nseries++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

static bool append(rp_series *s, double x, double y) {
    if (s->n == s->cap) {
        const int cap = s->cap ? 2 * s->cap : 64;
        double *nx = realloc(s->x, (size_t)cap * sizeof *nx);
        if (!nx) return false;
        s->x = nx;
        double *ny = realloc(s->y, (size_t)cap * sizeof *ny);
        if (!ny) return false;
        s->y = ny;
        s->cap = cap;
    }
    s->x[s->n] = x;
    s->y[s->n] = y;
    s->n++;
    return true;
}

static ds_status read_metrics(rp_run *run, ds_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/metrics.jsonl", run->dir);
    FILE *f = fopen(path, "r");
    DS_REQUIRE(err, f != NULL, DS_ERR_IO, "%s: cannot open it (%s): not a training run's output directory?", path,
               strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    ds_status st = DS_OK;
    while (st == DS_OK && (n = getline(&line, &cap, f)) > 0) {
        cJSON *o = cJSON_Parse(line);
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        if (!cJSON_IsNumber(step)) {  // a torn or foreign line: skipped
            cJSON_Delete(o);
            continue;
        }
        run->lines++;
        for (const cJSON *v = o->child; v && st == DS_OK; v = v->next) {
            if (!cJSON_IsNumber(v) || strcmp(v->string, "step") == 0 || !isfinite(v->valuedouble)) continue;
            // An evaluation line repeats the epoch: keep the training lines' epochs only.
            if (strcmp(v->string, "epoch") == 0 && !cJSON_HasObjectItem(o, "loss")) continue;
            rp_series *s = series_of(run, v->string);
            if (!s || !append(s, step->valuedouble, v->valuedouble))
                st = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
        }
        cJSON_Delete(o);
    }
    free(line);
    fclose(f);
    return st;
}

// A JSON file of the run directory, or NULL when absent; malformed is an error naming it.
static ds_status read_json(const rp_run *run, const char *name, cJSON **out, char **text_out, ds_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/%s", run->dir, name);
    *out = NULL;
    FILE *probe = fopen(path, "r");
    if (!probe) return DS_OK;
    fclose(probe);
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    *out = cJSON_ParseWithLength(text, size);
    if (text_out) *text_out = text;
    else free(text);
    DS_REQUIRE(err, *out != NULL, DS_ERR_FORMAT, "%s: not valid JSON", path);
    return DS_OK;
}

static ds_status read_samples(rp_run *run, ds_err *err) {
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/samples.jsonl", run->dir);
    FILE *f = fopen(path, "r");
    if (!f) return DS_OK;
    char *line = NULL;
    size_t cap = 0;
    ds_status st = DS_OK;
    while (st == DS_OK && getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        if (!cJSON_IsObject(o)) {
            cJSON_Delete(o);
            continue;
        }
        cJSON **grown = realloc(run->samples, (size_t)(run->nsamples + 1) * sizeof *grown);
        if (!grown) {
            cJSON_Delete(o);
            st = ds_err_set(err, DS_ERR_OOM, "%s: out of memory", path);
            break;
        }
        run->samples = grown;
        run->samples[run->nsamples++] = o;
    }
    free(line);
    fclose(f);
    return st;
}

ds_status rp_run_load(const char *dir, rp_run *run, ds_err *err) {
    memset(run, 0, sizeof *run);
    DS_REQUIRE(err, strlen(dir) < sizeof run->dir, DS_ERR_INVALID_ARG, "run directory path too long: %s", dir);
    snprintf(run->dir, sizeof run->dir, "%s", dir);
    ds_status st = read_metrics(run, err);
    if (st == DS_OK) st = read_json(run, "config.json", &run->config, &run->config_text, err);
    if (st == DS_OK) st = read_json(run, "eval_dev.json", &run->eval[0], NULL, err);
    if (st == DS_OK) st = read_json(run, "eval_test.json", &run->eval[1], NULL, err);
    if (st == DS_OK) st = read_samples(run, err);
    if (st != DS_OK) rp_run_free(run);
    return st;
}

const rp_series *rp_run_series(const rp_run *run, const char *name) {
    for (int i = 0; i < run->nseries; i++)
        if (strcmp(run->series[i].name, name) == 0 && run->series[i].n > 0) return &run->series[i];
    return NULL;
}

void rp_run_free(rp_run *run) {
    for (int i = 0; i < run->nseries; i++) {
        free(run->series[i].x);
        free(run->series[i].y);
    }
    free(run->series);
    free(run->config_text);
    cJSON_Delete(run->config);
    cJSON_Delete(run->eval[0]);
    cJSON_Delete(run->eval[1]);
    for (int i = 0; i < run->nsamples; i++) cJSON_Delete(run->samples[i]);
    free(run->samples);
    memset(run, 0, sizeof *run);
}
