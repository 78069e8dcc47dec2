// Leveled logging to a stream (stderr by default). A ds_log is a plain value held by the
// context; there is no global logger. --quiet sets WARN, --verbose sets DEBUG.
#ifndef DS_LOG_H
#define DS_LOG_H

#include <stdio.h>

typedef enum ds_log_level { DS_LOG_ERROR = 0, DS_LOG_WARN, DS_LOG_INFO, DS_LOG_DEBUG } ds_log_level;

typedef struct ds_log {
    ds_log_level level;  // messages above this level are dropped
    FILE *out;           // NULL means stderr
    int rank;            // distributed rank; only rank 0 writes INFO and DEBUG
    double t0;           // monotonic seconds at start, for the elapsed-time prefix
} ds_log;

// A logger at INFO on stderr, timed from now.
ds_log ds_log_default(void);

void ds_log_write(const ds_log *log, ds_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// Monotonic wall-clock seconds.
double ds_now_seconds(void);

#define DS_LOG_ERROR(log, ...) ds_log_write((log), DS_LOG_ERROR, __VA_ARGS__)
#define DS_LOG_WARN(log, ...) ds_log_write((log), DS_LOG_WARN, __VA_ARGS__)
#define DS_LOG_INFO(log, ...) ds_log_write((log), DS_LOG_INFO, __VA_ARGS__)
#define DS_LOG_DEBUG(log, ...) ds_log_write((log), DS_LOG_DEBUG, __VA_ARGS__)

#endif
