// The report page: sections in the order a reader asks their questions (how did it end, how did
// it train, where does it fail, what exactly ran), all inline.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../base/check.h"
#include "../io/fs.h"
#include "report_internal.h"

void rp_html_escape(FILE *f, const char *s) {
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

static const char *k_style =
    "body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px auto;max-width:1260px;"
    "color:#222;background:#fafafa;padding:0 16px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;"
    "padding-bottom:4px}.sub{color:#666;font-size:13px}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}.chart,.heatmap{background:#fff;border:1px solid #ddd}"
    "svg text{font-size:11px;fill:#333}svg .title{font-size:13px;font-weight:600}svg .axis{font-size:12px;fill:#555}"
    "table{border-collapse:collapse;background:#fff;font-size:13px}td,th{border:1px solid #ddd;padding:4px 8px;"
    "text-align:left;vertical-align:top}th{background:#f0f0f0}td.num{text-align:right;font-variant-numeric:"
    "tabular-nums}.wrong{color:#b00020;font-weight:600}.right{color:#1b7f3b}"
    "pre{background:#fff;border:1px solid #ddd;padding:8px;font-size:12px;max-height:420px;overflow:auto}"
    "del{background:#fdd;text-decoration:line-through}ins{background:#dfd;text-decoration:none}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap}.card{background:#fff;border:1px solid #ddd;padding:8px 14px}"
    ".card b{display:block;font-size:20px}.missing{color:#888;font-style:italic}img.sample{max-width:240px}";

static const char *config_str(const rp_run *run, const char *section, const char *key) {
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(run->config, "config");
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, section), key));
    return v ? v : "";
}

static void header(FILE *f, const rp_run *run) {
    fprintf(f, "<h1>Training run: ");
    rp_html_escape(f, run->dir);
    fprintf(f, "</h1>\n<div class=\"sub\">");
    if (run->config) {
        fprintf(f, "task ");
        rp_html_escape(f, config_str(run, "task", "type"));
        fprintf(f, " &middot; model ");
        rp_html_escape(f, config_str(run, "model", "path"));
        fprintf(f, " &middot; ");
    }
    const rp_series *loss = rp_run_series(run, "loss");
    fprintf(f, "%d metrics lines, %d optimizer steps logged", run->lines, loss ? loss->n : 0);
    const time_t now = time(NULL);
    char when[64];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    fprintf(f, " &middot; report written %s by downstream report</div>\n", when);
}

static void number_cell(FILE *f, const cJSON *v) {
    if (cJSON_IsNumber(v)) fprintf(f, "<td class=\"num\">%.4f</td>", v->valuedouble);
    else fprintf(f, "<td class=\"num\">&ndash;</td>");
}

// The final metrics of dev and test as cards and a table.
static void summary(FILE *f, const rp_run *run) {
    fprintf(f, "<h2>Result</h2>\n");
    if (!run->eval[0] && !run->eval[1]) {
        fprintf(f, "<p class=\"missing\">No eval_dev.json / eval_test.json: the run has not finished (or predates "
                   "them). The curves below come from metrics.jsonl.</p>\n");
        return;
    }
    fprintf(f, "<div class=\"cards\">");
    for (int s = 1; s >= 0; s--) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(run->eval[s], "metrics");
        for (const cJSON *v = m ? m->child : NULL; v; v = v->next) {
            if (!cJSON_IsNumber(v) || strstr(v->string, "loss")) continue;
            fprintf(f, "<div class=\"card\">");
            rp_html_escape(f, v->string);
            fprintf(f, "<b>%.4f</b></div>", v->valuedouble);
        }
    }
    fprintf(f, "</div>\n<p></p><table><tr><th>set</th><th>examples</th><th>loss</th><th>metrics</th></tr>\n");
    for (int s = 0; s < 2; s++) {
        if (!run->eval[s]) continue;
        fprintf(f, "<tr><td>%s</td>", s ? "test" : "dev");
        const cJSON *ex = cJSON_GetObjectItemCaseSensitive(run->eval[s], "examples");
        fprintf(f, "<td class=\"num\">%.0f</td>", cJSON_IsNumber(ex) ? ex->valuedouble : 0);
        number_cell(f, cJSON_GetObjectItemCaseSensitive(run->eval[s], "loss"));
        fprintf(f, "<td>");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(run->eval[s], "metrics");
        for (const cJSON *v = m ? m->child : NULL; v; v = v->next) {
            rp_html_escape(f, v->string);
            if (cJSON_IsNumber(v)) fprintf(f, " %.4f; ", v->valuedouble);
            else fprintf(f, " &ndash;; ");
        }
        fprintf(f, "</td></tr>\n");
    }
    fprintf(f, "</table>\n");
}

static const char *k_colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"};

static void charts(FILE *f, const rp_run *run) {
    fprintf(f, "<h2>Training curves</h2>\n<div class=\"charts\">\n");
    rp_line l[8];
    int n = 0;
    const rp_series *s;
    if ((s = rp_run_series(run, "loss"))) l[n++] = (rp_line){s, "train loss", k_colors[0], 1};
    if ((s = rp_run_series(run, "eval_loss"))) l[n++] = (rp_line){s, "dev loss", k_colors[1], 1};
    if (n) rp_svg_lines(f, "Loss", "loss", l, n);
    n = 0;
    // Every dev metric but the loss (accuracy, F1, mIoU, WER...).
    for (int i = 0; i < run->nseries && n < 7; i++)
        if (strncmp(run->series[i].name, "eval_", 5) == 0 && strcmp(run->series[i].name, "eval_loss") != 0)
            l[n] = (rp_line){&run->series[i], run->series[i].name + 5, k_colors[n % 7], 1}, n++;
    if (n) rp_svg_lines(f, "Dev metrics", "value", l, n);
    if ((s = rp_run_series(run, "lr"))) {
        l[0] = (rp_line){s, "learning rate", k_colors[2], 1};
        rp_svg_lines(f, "Learning rate", "lr", l, 1);
    }
    if ((s = rp_run_series(run, "grad_norm"))) {
        l[0] = (rp_line){s, "gradient norm", k_colors[4], 1};
        rp_svg_lines(f, "Gradient norm (before clipping)", "norm", l, 1);
    }
    if ((s = rp_run_series(run, "samples_per_s"))) {
        l[0] = (rp_line){s, "samples/s", k_colors[3], 1};
        rp_svg_lines(f, "Throughput", "samples / s", l, 1);
    }
    n = 0;
    if ((s = rp_run_series(run, "data_wait_ms"))) l[n++] = (rp_line){s, "data wait", k_colors[5], 1};
    if ((s = rp_run_series(run, "allreduce_exposed_ms"))) l[n++] = (rp_line){s, "all-reduce exposed", k_colors[6], 1};
    if (n) rp_svg_lines(f, "Waiting per step", "ms", l, n);
    fprintf(f, "</div>\n");
}

// The per-class table (any number fields the family gives) and the confusion matrix.
static void classes(FILE *f, const rp_run *run) {
    const cJSON *e = run->eval[1] ? run->eval[1] : run->eval[0];
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(e, "per_class");
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(e, "confusion");
    if (!per && !conf) return;
    fprintf(f, "<h2>Per class (%s)</h2>\n", e == run->eval[1] ? "test" : "dev");
    if (cJSON_IsArray(per) && per->child) {
        fprintf(f, "<table><tr>");
        for (const cJSON *k = per->child->child; k; k = k->next) {
            fprintf(f, "<th>");
            rp_html_escape(f, k->string);
            fprintf(f, "</th>");
        }
        fprintf(f, "</tr>\n");
        for (const cJSON *row = per->child; row; row = row->next) {
            fprintf(f, "<tr>");
            for (const cJSON *k = per->child->child; k; k = k->next) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(row, k->string);
                if (cJSON_IsString(v)) {
                    fprintf(f, "<td>");
                    rp_html_escape(f, v->valuestring);
                    fprintf(f, "</td>");
                } else if (cJSON_IsNumber(v) && strcmp(k->string, "support") == 0) {
                    fprintf(f, "<td class=\"num\">%.0f</td>", v->valuedouble);
                } else {
                    number_cell(f, v);
                }
            }
            fprintf(f, "</tr>\n");
        }
        fprintf(f, "</table>\n");
    }
    const cJSON *matrix = cJSON_GetObjectItemCaseSensitive(conf, "matrix");
    if (cJSON_IsArray(matrix)) {
        fprintf(f, "<h2>Confusion matrix</h2>\n<p class=\"sub\">Rows: true class, columns: predicted; colour: the "
                   "share of the row's examples.</p>\n");
        rp_svg_heatmap(f, cJSON_GetObjectItemCaseSensitive(e, "classes"), matrix);
    }
}

// ---- samples ---------------------------------------------------------------------------------

static const char *str(const cJSON *o, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

// Word-level differences of a hypothesis against its reference (LCS): deletions struck through,
// insertions marked.
static void word_diff(FILE *f, const char *ref, const char *hyp) {
    char *a = strdup(ref ? ref : ""), *b = strdup(hyp ? hyp : "");
    char *wa[256], *wb[256];
    int na = 0, nb = 0;
    for (char *t = strtok(a, " "); t && na < 256; t = strtok(NULL, " ")) wa[na++] = t;
    for (char *t = strtok(b, " "); t && nb < 256; t = strtok(NULL, " ")) wb[nb++] = t;
    static const int MAXW = 257;
    int *L = calloc((size_t)MAXW * MAXW, sizeof *L);  // L[i][j]: LCS of wa[i..], wb[j..]
    if (L) {
        for (int i = na - 1; i >= 0; i--)
            for (int j = nb - 1; j >= 0; j--)
                L[i * MAXW + j] = strcmp(wa[i], wb[j]) == 0 ? L[(i + 1) * MAXW + j + 1] + 1
                                  : L[(i + 1) * MAXW + j] > L[i * MAXW + j + 1] ? L[(i + 1) * MAXW + j]
                                                                                  : L[i * MAXW + j + 1];
        int i = 0, j = 0;
        while (i < na || j < nb) {
            if (i < na && j < nb && strcmp(wa[i], wb[j]) == 0) {
                rp_html_escape(f, wa[i]);
                i++, j++;
            } else if (j < nb && (i == na || L[i * MAXW + j + 1] >= L[(i + 1) * MAXW + j])) {
                fprintf(f, "<ins>");
                rp_html_escape(f, wb[j++]);
                fprintf(f, "</ins>");
            } else {
                fprintf(f, "<del>");
                rp_html_escape(f, wa[i++]);
                fprintf(f, "</del>");
            }
            fputc(' ', f);
        }
    }
    free(L);
    free(a);
    free(b);
}

// A PNG of the run directory as a data: URI (the page stays self-contained).
static void inline_png(FILE *f, const rp_run *run, const char *rel) {
    char path[4400];
    snprintf(path, sizeof path, "%.4000s/%.300s", run->dir, rel ? rel : "");
    FILE *in = rel ? fopen(path, "rb") : NULL;
    if (!in) {
        fprintf(f, "<span class=\"missing\">(no image)</span>");
        return;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    fprintf(f, "<img class=\"sample\" alt=\"");
    rp_html_escape(f, rel);
    fprintf(f, "\" src=\"data:image/png;base64,");
    unsigned char in3[3];
    size_t n;
    while ((n = fread(in3, 1, 3, in)) > 0) {
        const unsigned v = (unsigned)in3[0] << 16 | (n > 1 ? (unsigned)in3[1] << 8 : 0) | (n > 2 ? in3[2] : 0);
        fputc(b64[v >> 18 & 63], f);
        fputc(b64[v >> 12 & 63], f);
        fputc(n > 1 ? b64[v >> 6 & 63] : '=', f);
        fputc(n > 2 ? b64[v & 63] : '=', f);
    }
    fclose(in);
    fprintf(f, "\"/>");
}

static void sample_row(FILE *f, const rp_run *run, const cJSON *o) {
    const char *kind = str(o, "kind");
    const cJSON *correct = cJSON_GetObjectItemCaseSensitive(o, "correct");
    const bool wrong = cJSON_IsFalse(correct);
    fprintf(f, "<tr class=\"sample sample-%s\"><td class=\"%s\">%s</td><td>", wrong ? "wrong" : "right",
            wrong ? "wrong" : "right", wrong ? "&#10007;" : "&#10003;");
    rp_html_escape(f, str(o, "label") ? str(o, "label") : "");
    fprintf(f, "</td><td>");
    rp_html_escape(f, str(o, "predicted") ? str(o, "predicted") : "");
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "probabilities"),
                                                      str(o, "predicted") ? str(o, "predicted") : "");
    if (cJSON_IsNumber(p)) fprintf(f, " (%.2f)", p->valuedouble);
    fprintf(f, "</td><td>");
    if (kind && strcmp(kind, "audio") == 0) {
        word_diff(f, str(o, "reference"), str(o, "hypothesis"));
        const cJSON *wer = cJSON_GetObjectItemCaseSensitive(o, "wer");
        if (cJSON_IsNumber(wer)) fprintf(f, " <span class=\"sub\">(WER %.3f)</span>", wer->valuedouble);
    } else if (kind && strcmp(kind, "image") == 0) {
        inline_png(f, run, str(o, "image"));
        inline_png(f, run, str(o, "mask"));
        inline_png(f, run, str(o, "prediction"));
    } else {
        rp_html_escape(f, str(o, "text"));
        if (str(o, "text_pair")) {
            fprintf(f, " <span class=\"sub\">[SEP]</span> ");
            rp_html_escape(f, str(o, "text_pair"));
        }
    }
    fprintf(f, "</td></tr>\n");
}

static void samples(FILE *f, const rp_run *run) {
    if (run->nsamples == 0) return;
    int wrong = 0;
    for (int i = 0; i < run->nsamples; i++) wrong += cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(run->samples[i], "correct"));
    fprintf(f, "<h2>Sample predictions</h2>\n<p class=\"sub\">%d samples from samples.jsonl, %d of them wrong "
               "(shown first).</p>\n<table class=\"samples\"><tr><th></th><th>true</th><th>predicted</th><th>input</th></tr>\n",
            run->nsamples, wrong);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < run->nsamples && i < 400; i++)
            if (cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(run->samples[i], "correct")) == (pass == 0))
                sample_row(f, run, run->samples[i]);
    fprintf(f, "</table>\n");
}

static void config(FILE *f, const rp_run *run) {
    fprintf(f, "<h2>Configuration</h2>\n");
    if (!run->config_text) {
        fprintf(f, "<p class=\"missing\">No config.json in the run directory.</p>\n");
        return;
    }
    fprintf(f, "<pre>");
    rp_html_escape(f, run->config_text);
    fprintf(f, "</pre>\n");
}

ds_status ds_report_write(const char *run_dir, const char *out_path, ds_err *err) {
    rp_run run;
    DS_TRY(rp_run_load(run_dir, &run, err));
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        rp_run_free(&run);
        return ds_err_set(err, DS_ERR_OOM, "report: out of memory");
    }
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>downstream report: ");
    rp_html_escape(f, run_dir);
    fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n", k_style);
    header(f, &run);
    summary(f, &run);
    charts(f, &run);
    classes(f, &run);
    samples(f, &run);
    config(f, &run);
    fprintf(f, "</body></html>\n");
    fclose(f);
    rp_run_free(&run);
    const ds_status st = text ? ds_write_file_atomic(out_path, text, len, err)
                              : ds_err_set(err, DS_ERR_OOM, "report: out of memory");
    free(text);
    return st;
}
