// Shared by runtime/report/*.c only.
#ifndef DS_REPORT_INTERNAL_H
#define DS_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "report.h"

// ---- the run's files (report_data.c) -------------------------------------------------------------
// One metrics.jsonl key over the steps that logged it.
typedef struct rp_series {
    char name[64];
    double *x, *y;  // (n) host: step, value
    int n, cap;
} rp_series;

typedef struct rp_run {
    char dir[4096];
    rp_series *series;  // (nseries), in the order keys first appear
    int nseries;
    int lines;          // metrics.jsonl lines read
    char *config_text;  // config.json as written, or NULL
    cJSON *config;      // its parse, or NULL
    cJSON *eval[2];     // eval_dev.json, eval_test.json, or NULL
    cJSON **samples;    // (nsamples) samples.jsonl's objects
    int nsamples;
} rp_run;

ds_status rp_run_load(const char *dir, rp_run *run, ds_err *err);
const rp_series *rp_run_series(const rp_run *run, const char *name);  // NULL when never logged
void rp_run_free(rp_run *run);

// ---- SVG (report_svg.c) --------------------------------------------------------------------------
typedef struct rp_line {
    const rp_series *s;
    const char *label;
    const char *color;
    double scale;  // values are multiplied by it (1: as logged)
} rp_line;

// A line chart of the series (x: step) with axes, ticks, a legend; each series one <path
// class="series"> with a point per logged step (and dots when it has few points).
void rp_svg_lines(FILE *f, const char *title, const char *y_label, const rp_line *lines, int n);
// A heat map of a K x K count matrix (rows: true, columns: predicted), colour by the row's share.
void rp_svg_heatmap(FILE *f, const cJSON *classes, const cJSON *matrix);

// ---- HTML helpers (report_html.c) ----------------------------------------------------------------
void rp_html_escape(FILE *f, const char *s);

#endif
