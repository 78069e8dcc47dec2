// The progress display (runtime/train/progress.c): the formatted line for given steps and times (exact
// text), the bar's fill, loss smoothing, the redraw rate limit in bar mode, the plain-line
// interval, narrow widths, durations.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/train/progress.h"
#include "../test_util.h"

static char *file_text(FILE *f) {
    fflush(f);
    const long n = ftell(f);
    rewind(f);
    char *s = calloc((size_t)n + 1, 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    return s;
}

static int count_char(const char *s, char c) {
    int n = 0;
    for (; *s; s++) n += *s == c;
    return n;
}

static void check_format(ds_test *t) {
    ds_progress_options o = ds_progress_options_default();
    o.mode = DS_PROGRESS_OFF;  // draw nothing; format only
    ds_progress p;
    ds_progress_start(&p, &o, 0, 1000, 100.0);
    char buf[256];
    ds_progress_format(&p, 100.0, 0, true, buf, sizeof buf);
    ds_test_check(t, strcmp(buf, "step 0/1000 (0%) | loss - | lr - | - samples/s | elapsed 0:00 | ETA ?") == 0,
                  "before any step: '%s'", buf);
    for (int k = 1; k <= 120; k++) ds_progress_update(&p, k, 0.6931, 2e-5, 32, 100.0 + 0.5 * k);
    // 3840 samples in 60 s; 880 steps left at 0.5 s each: 440 s.
    const char *nums = "120/1000  12% loss 0.6931 lr 2.00e-05 64.0 samples/s ETA 7:20";
    const size_t n = ds_progress_format(&p, 160.0, 100, false, buf, sizeof buf);
    const int bar = 100 - (int)strlen(nums) - 3, fill = (int)(0.12 * bar);
    char want[256];
    snprintf(want, sizeof want, "[%.*s>%*s] %s", fill, "========================================", bar - fill - 1, "",
             nums);
    ds_test_check(t, strcmp(buf, want) == 0 && n == 100, "bar line:\n got '%s'\nwant '%s'", buf, want);
    ds_progress_format(&p, 161.0, 0, true, buf, sizeof buf);
    ds_test_check(t,
                  strcmp(buf, "step 120/1000 (12%) | loss 0.6931 | lr 2.00e-05 | 64.0 samples/s | elapsed 1:01 | "
                              "ETA 7:20") == 0,
                  "plain line: '%s'", buf);
    // Too narrow for a bar: the numbers alone, cut to the width.
    ds_progress_format(&p, 160.0, 40, false, buf, sizeof buf);
    ds_test_check(t, strlen(buf) == 40 && strncmp(buf, nums, 40) == 0, "narrow: '%s'", buf);
    // Complete: a full bar.
    ds_progress_update(&p, 1000, 0.6931, 0.0, 32, 600.0);
    ds_progress_format(&p, 600.0, 100, false, buf, sizeof buf);
    ds_test_check(t, buf[0] == '[' && strchr(buf, '>') == NULL && strstr(buf, "=] 1000/1000 100%"), "full: '%s'", buf);
}

static void check_smoothing(ds_test *t) {
    ds_progress_options o = ds_progress_options_default();
    o.mode = DS_PROGRESS_OFF;
    ds_progress p;
    ds_progress_start(&p, &o, 10, 100, 0.0);  // resumed at step 10
    ds_progress_update(&p, 11, 1.0, 1e-3, 8, 1.0);
    ds_progress_update(&p, 12, 0.0, 1e-3, 8, 2.0);
    ds_progress_update(&p, 13, NAN, 1e-3, 8, 3.0);  // a NaN loss does not poison the average
    // Bias-corrected moving average, beta 0.95: (0.95 * 0.05 * 1 + 0.05 * 0) / (1 - 0.95^2) = 0.48718
    char buf[256];
    ds_progress_format(&p, 3.0, 0, true, buf, sizeof buf);
    ds_test_check(t, strstr(buf, "loss 0.4872 ") != NULL, "smoothed loss: '%s'", buf);
    // Pace from this run's 3 steps (3 s): 87 steps left -> 87 s; 24 samples / 3 s.
    ds_test_check(t, strstr(buf, "8.0 samples/s") && strstr(buf, "ETA 1:27"), "resumed pace: '%s'", buf);
}

// Bar mode redraws at most every bar_interval_s (0.1 s) and always on the last step.
static void check_rate_limit(ds_test *t) {
    FILE *f = tmpfile();
    if (!ds_test_check(t, f != NULL, "tmpfile")) return;
    ds_progress_options o = ds_progress_options_default();
    o.mode = DS_PROGRESS_BAR;
    o.out = f;
    o.width = 80;
    ds_progress p;
    ds_progress_start(&p, &o, 0, 200, 0.0);
    int drawn = 0;
    for (int k = 1; k <= 200; k++) drawn += ds_progress_update(&p, k, 1.0, 1e-4, 4, 0.005 * k);  // 1 s at 200 Hz
    ds_progress_finish(&p, 1.0);
    char *s = file_text(f);
    // Draws at 0.005 (first), then each time 0.1 s passed, and at step 200: 11 in all.
    ds_test_check(t, drawn == 11 && count_char(s, '\r') == 11, "bar draws: %d (\\r: %d)", drawn, count_char(s, '\r'));
    ds_test_check(t, count_char(s, '\n') == 1 && s[strlen(s) - 1] == '\n', "finish ends the bar's line");
    ds_test_check(t, strstr(s, "200/200 100%") != NULL, "last step shown");
    free(s);
    fclose(f);
}

// Lines mode writes one plain line per line_interval_s, and the last step.
static void check_lines(ds_test *t) {
    FILE *f = tmpfile();
    if (!ds_test_check(t, f != NULL, "tmpfile")) return;
    ds_progress_options o = ds_progress_options_default();
    o.mode = DS_PROGRESS_AUTO;  // a temporary file is no terminal: lines
    o.out = f;
    ds_progress p;
    ds_progress_start(&p, &o, 0, 100, 0.0);
    ds_test_check(t, !p.bar, "AUTO on a file gives lines");
    for (int k = 1; k <= 100; k++) ds_progress_update(&p, k, 2.0, 1e-4, 16, (double)k);
    ds_progress_finish(&p, 100.0);
    char *s = file_text(f);
    // At t = 1 (first), 31, 61, 91, and step 100.
    ds_test_check(t, count_char(s, '\n') == 5 && count_char(s, '\r') == 0 && strstr(s, "step 31/100") &&
                         strstr(s, "step 100/100 (100%)"),
                  "plain lines:\n%s", s);
    free(s);
    fclose(f);
}

static void check_durations(ds_test *t) {
    char b[32];
    ds_test_check(t, strcmp(ds_progress_duration(0, b, sizeof b), "0:00") == 0, "0 s: %s", b);
    ds_test_check(t, strcmp(ds_progress_duration(59.6, b, sizeof b), "1:00") == 0, "59.6 s: %s", b);
    ds_test_check(t, strcmp(ds_progress_duration(3599.4, b, sizeof b), "59:59") == 0, "3599.4 s: %s", b);
    ds_test_check(t, strcmp(ds_progress_duration(3600, b, sizeof b), "1:00:00") == 0, "1 h: %s", b);
    ds_test_check(t, strcmp(ds_progress_duration(100 * 3600 + 61, b, sizeof b), "100:01:01") == 0, "100 h: %s", b);
    ds_test_check(t, strcmp(ds_progress_duration(-1, b, sizeof b), "?") == 0 &&
                         strcmp(ds_progress_duration(NAN, b, sizeof b), "?") == 0,
                  "unknown: %s", b);
}

int main(void) {
    ds_test t = ds_test_begin("progress");
    check_format(&t);
    check_smoothing(&t);
    check_rate_limit(&t);
    check_lines(&t);
    check_durations(&t);
    return ds_test_finish(&t);
}
