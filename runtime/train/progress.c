#include "progress.h"

#include <math.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

ds_progress_options ds_progress_options_default(void) {
    ds_progress_options o = {
        .mode = DS_PROGRESS_AUTO, .out = NULL, .log = NULL, .bar_interval_s = 0.1, .line_interval_s = 30.0,
        .loss_beta = 0.95, .width = 0,
    };
    return o;
}

static FILE *out_of(const ds_progress *p) { return p->opt.out ? p->opt.out : stderr; }

static int terminal_width(FILE *f) {
    struct winsize ws;
    if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 100;
}

void ds_progress_start(ds_progress *p, const ds_progress_options *o, int64_t start_step, int64_t total_steps,
                       double now) {
    memset(p, 0, sizeof *p);
    p->opt = *o;
    FILE *out = out_of(p);
    p->off = o->mode == DS_PROGRESS_OFF;
    p->bar = o->mode == DS_PROGRESS_BAR || (o->mode == DS_PROGRESS_AUTO && isatty(fileno(out)));
    p->width = o->width > 0 ? o->width : (p->bar ? terminal_width(out) : 100);
    p->total = total_steps;
    p->start_step = p->step = start_step;
    p->lr = NAN;
    p->t_start = p->t_last = now;
    p->t_drawn = -INFINITY;
}

const char *ds_progress_duration(double s, char *buf, size_t cap) {
    if (!(s >= 0) || !isfinite(s) || s > 1e9) {
        snprintf(buf, cap, "?");
        return buf;
    }
    const long long t = (long long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%lld:%02lld", t / 60, t % 60);
    return buf;
}

// The numbers, without the bar: " 120/1000  12% loss 0.6931 lr 2.00e-05 41.2 samples/s ETA 2:13".
static void format_numbers(const ds_progress *p, double now, bool lines, char *buf, size_t cap) {
    const int64_t done = p->step - p->start_step;
    const double elapsed = p->t_last - p->t_start;
    const double pct = p->total > 0 ? 100.0 * (double)p->step / (double)p->total : 0;
    char loss[32] = "-", lr[32] = "-", rate[32] = "-", eta[32], el[32];
    if (p->loss_weight > 0) snprintf(loss, sizeof loss, "%.4f", p->loss_avg / p->loss_weight);
    if (isfinite(p->lr)) snprintf(lr, sizeof lr, "%.2e", p->lr);
    if (done > 0 && elapsed > 0) snprintf(rate, sizeof rate, "%.1f", (double)p->samples / elapsed);
    // Remaining steps at this run's average pace so far.
    ds_progress_duration(done > 0 ? (double)(p->total - p->step) * elapsed / (double)done : -1, eta, sizeof eta);
    ds_progress_duration(now - p->t_start, el, sizeof el);
    if (lines)
        snprintf(buf, cap, "step %lld/%lld (%.0f%%) | loss %s | lr %s | %s samples/s | elapsed %s | ETA %s",
                 (long long)p->step, (long long)p->total, pct, loss, lr, rate, el, eta);
    else
        snprintf(buf, cap, "%lld/%lld %3.0f%% loss %s lr %s %s samples/s ETA %s", (long long)p->step,
                 (long long)p->total, pct, loss, lr, rate, eta);
}

size_t ds_progress_format(const ds_progress *p, double now, int width, bool lines, char *buf, size_t cap) {
    if (cap == 0) return 0;
    char nums[256];
    format_numbers(p, now, lines, nums, sizeof nums);
    const int n = (int)strlen(nums);
    const int bar = width - n - 3;  // "[" bar "] " before the numbers
    if (lines || bar < 10) {
        snprintf(buf, cap, "%.*s", width > 0 && !lines ? width : (int)sizeof nums, nums);
        return strlen(buf);
    }
    const double frac = p->total > 0 ? fmin(1.0, fmax(0.0, (double)p->step / (double)p->total)) : 0;
    const int fill = (int)(frac * bar);
    char cells[512];
    const int cw = bar < (int)sizeof cells - 1 ? bar : (int)sizeof cells - 1;
    for (int i = 0; i < cw; i++) cells[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    cells[cw] = 0;
    snprintf(buf, cap, "[%s] %s", cells, nums);
    return strlen(buf);
}

static void draw(ds_progress *p, double now) {
    char line[640];
    FILE *out = out_of(p);
    if (p->bar) {
        // One column short of the width: a full-width line makes some terminals wrap.
        ds_progress_format(p, now, p->width - 1, false, line, sizeof line);
        fprintf(out, "\r%s\x1b[K", line);
        p->line_open = true;
    } else {
        ds_progress_format(p, now, 0, true, line, sizeof line);
        if (p->opt.log) DS_LOG_INFO(p->opt.log, "%s", line);
        else fprintf(out, "%s\n", line);
    }
    fflush(out);
    p->t_drawn = now;
}

bool ds_progress_update(ds_progress *p, int64_t step, double loss, double lr, int64_t samples, double now) {
    const double beta = p->opt.loss_beta;
    if (isfinite(loss)) {
        p->loss_avg = beta * p->loss_avg + (1 - beta) * loss;
        p->loss_weight = beta * p->loss_weight + (1 - beta);
    }
    p->step = step;
    p->lr = lr;
    p->samples += samples;
    p->t_last = now;
    if (p->off) return false;
    const double interval = p->bar ? p->opt.bar_interval_s : p->opt.line_interval_s;
    if (step < p->total && now - p->t_drawn < interval) return false;
    draw(p, now);
    return true;
}

void ds_progress_clear(ds_progress *p) {
    if (!p->line_open) return;
    fputs("\r\x1b[K", out_of(p));
    fflush(out_of(p));
    p->line_open = false;
    p->t_drawn = -INFINITY;  // redraw at the next update
}

void ds_progress_finish(ds_progress *p, double now) {
    if (p->off) return;
    if (p->t_drawn < p->t_last) draw(p, now);  // the last step was not shown yet
    if (p->line_open) {
        fputc('\n', out_of(p));
        fflush(out_of(p));
        p->line_open = false;
    }
}
