// Inline SVG for the report: line charts over the training steps and a confusion-matrix heat map.
// Plain SVG 1.1 elements (svg, g, path, line, rect, circle, text) that every browser draws.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_internal.h"

enum { W = 600, H = 300, ML = 70, MR = 20, MT = 36, MB = 44 };

// 1, 2 or 5 times a power of ten, near range / 5.
static double nice_step(double range) {
    const double raw = range / 5, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

static void tick_label(double v, double step, char *out, size_t cap) {
    if (fabs(v) < step * 1e-9) v = 0;
    snprintf(out, cap, "%.4g", v);
}

void rp_svg_lines(FILE *f, const char *title, const char *y_label, const rp_line *lines, int n) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < lines[i].s->n; k++) {
            const double x = lines[i].s->x[k], y = lines[i].s->y[k] * lines[i].scale;
            x0 = fmin(x0, x), x1 = fmax(x1, x), y0 = fmin(y0, y), y1 = fmax(y1, y);
        }
    if (!(x1 >= x0)) return;
    if (x1 == x0) x0 -= 1, x1 += 1;
    if (y1 == y0) {
        const double pad = fabs(y0) > 0 ? fabs(y0) * 0.1 : 1;
        y0 -= pad, y1 += pad;
    }
    const double ystep = nice_step(y1 - y0), xstep = nice_step(x1 - x0);
    y0 = floor(y0 / ystep) * ystep, y1 = ceil(y1 / ystep) * ystep;
    const double pw = W - ML - MR, ph = H - MT - MB;
#define PX(x) (ML + ((x) - x0) / (x1 - x0) * pw)
#define PY(y) (MT + ph - ((y) - y0) / (y1 - y0) * ph)
    fprintf(f, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "role=\"img\" aria-label=\"", W, H, W, H);
    rp_html_escape(f, title);
    fprintf(f, "\">\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", W, H);
    fprintf(f, "<text x=\"%d\" y=\"20\" class=\"title\">", ML);
    rp_html_escape(f, title);
    fprintf(f, "</text>\n<g class=\"grid\">\n");
    char label[64];
    for (double y = y0; y <= y1 + ystep * 1e-6; y += ystep) {
        tick_label(y, ystep, label, sizeof label);
        fprintf(f, "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
                   "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" class=\"tick\">%s</text>\n",
                ML, W - MR, PY(y), PY(y), ML - 6, PY(y) + 4, label);
    }
    for (double x = ceil(x0 / xstep) * xstep; x <= x1 + xstep * 1e-6; x += xstep) {
        tick_label(x, xstep, label, sizeof label);
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#bbb\"/>"
                   "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">%s</text>\n",
                PX(x), PX(x), H - MB, H - MB + 5, PX(x), H - MB + 18, label);
    }
    fprintf(f, "</g>\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>"
               "<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n",
            ML, W - MR, H - MB, H - MB, ML, ML, MT, H - MB);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"axis\">step</text>\n", ML + (int)pw / 2, H - 8);
    fprintf(f, "<text transform=\"translate(16 %d) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">", MT + (int)ph / 2);
    rp_html_escape(f, y_label);
    fprintf(f, "</text>\n");
    for (int i = 0; i < n; i++) {
        const rp_series *s = lines[i].s;
        fprintf(f, "<path class=\"series\" data-series=\"");
        rp_html_escape(f, s->name);
        fprintf(f, "\" data-points=\"%d\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", s->n, lines[i].color);
        for (int k = 0; k < s->n; k++)
            fprintf(f, "%s%.1f %.1f", k ? " L" : "M", PX(s->x[k]), PY(s->y[k] * lines[i].scale));
        fprintf(f, "\"/>\n");
        if (s->n <= 40)
            for (int k = 0; k < s->n; k++)
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", PX(s->x[k]),
                        PY(s->y[k] * lines[i].scale), lines[i].color);
        // The legend, top right, one entry a line.
        const int ly = 14 + 16 * i;
        fprintf(f, "\n<line x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"3\"/>"
                   "<text x=\"%d\" y=\"%d\" class=\"legend\">",
                W - MR - 150, W - MR - 130, ly, ly, lines[i].color, W - MR - 124, ly + 4);
        rp_html_escape(f, lines[i].label);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
#undef PX
#undef PY
}

void rp_svg_heatmap(FILE *f, const cJSON *classes, const cJSON *matrix) {
    const int K = cJSON_GetArraySize(matrix);
    if (K <= 0) return;
    int cell = 420 / K;
    cell = cell < 14 ? 14 : cell > 64 ? 64 : cell;
    const int left = 140, top = 110, width = left + K * cell + 20, height = top + K * cell + 40;
    fprintf(f, "<svg class=\"heatmap\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"confusion matrix\">\n"
               "<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n"
               "<text x=\"%d\" y=\"16\" class=\"axis\">predicted &#8594;</text>"
               "<text transform=\"translate(14 %d) rotate(-90)\" text-anchor=\"middle\" class=\"axis\">true "
               "&#8594;</text>\n",
            width, height, width, height, width, height, left, top + K * cell / 2);
    for (int i = 0; i < K; i++) {
        const cJSON *name = cJSON_GetArrayItem(classes, i);
        const char *text = cJSON_IsString(name) ? name->valuestring : "?";
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"tick\">", left - 6, top + i * cell + cell / 2 + 4);
        rp_html_escape(f, text);
        // Column names upright above the cells while they fit, slanted when the classes are many.
        if (K <= 8)
            fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"tick\">", left + i * cell + cell / 2,
                    top - 6);
        else
            fprintf(f, "</text><text transform=\"translate(%d %d) rotate(-45)\" class=\"tick\">",
                    left + i * cell + cell / 2, top - 6);
        rp_html_escape(f, text);
        fprintf(f, "</text>\n");
    }
    for (int i = 0; i < K; i++) {
        const cJSON *row = cJSON_GetArrayItem(matrix, i);
        double sum = 0;
        for (int j = 0; j < K; j++) sum += cJSON_GetArrayItem(row, j) ? cJSON_GetArrayItem(row, j)->valuedouble : 0;
        for (int j = 0; j < K; j++) {
            const cJSON *c = cJSON_GetArrayItem(row, j);
            const double count = cJSON_IsNumber(c) ? c->valuedouble : 0, share = sum > 0 ? count / sum : 0;
            // White to a deep blue by the share of the true class's examples.
            const int r = (int)(255 - share * (255 - 31)), g = (int)(255 - share * (255 - 78)),
                      b = (int)(255 - share * (255 - 156));
            fprintf(f, "<rect class=\"cell\" data-row=\"%d\" data-col=\"%d\" data-count=\"%.0f\" x=\"%d\" y=\"%d\" "
                       "width=\"%d\" height=\"%d\" fill=\"rgb(%d,%d,%d)\" stroke=\"#fff\"/>",
                    i, j, count, left + j * cell, top + i * cell, cell, cell, r, g, b);
            if (cell >= 24)
                fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" class=\"count\" fill=\"%s\">%.0f</text>",
                        left + j * cell + cell / 2, top + i * cell + cell / 2 + 4, share > 0.5 ? "#fff" : "#222", count);
        }
        fputc('\n', f);
    }
    fprintf(f, "</svg>\n");
}
