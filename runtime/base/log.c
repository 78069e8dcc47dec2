#include "log.h"

#include <stdarg.h>
#include <time.h>

double ds_now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

ds_log ds_log_default(void) {
    ds_log l = {.level = DS_LOG_INFO, .out = NULL, .rank = 0, .t0 = ds_now_seconds()};
    return l;
}

void ds_log_write(const ds_log *log, ds_log_level level, const char *fmt, ...) {
    if (level > log->level) return;
    if (log->rank != 0 && level > DS_LOG_WARN) return;  // rank 0 speaks for the job
    static const char *const tags[] = {"error", "warn", "info", "debug"};
    FILE *f = log->out ? log->out : stderr;
    if (log->rank != 0)
        fprintf(f, "[%8.2fs %s rank %d] ", ds_now_seconds() - log->t0, tags[level], log->rank);
    else
        fprintf(f, "[%8.2fs %s] ", ds_now_seconds() - log->t0, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
}
