// The run's metrics as JSON Lines: one object per line, written and flushed as it happens, so
// that a crashed run keeps everything up to its last line and `tail -f` or a plotting script can
// follow it. Each line: {"step": int, "epoch": number, then when the record has training values
// "loss", "lr", "grad_norm", "samples_per_s", then any extra named values (eval metrics)}.
// Non-finite numbers are written as null (JSON has no NaN).
//
// On resume from the checkpoint of step S, lines with a step beyond S (written by the
// interrupted run after that checkpoint; those steps will run again) and a torn last line are
// dropped, and new lines are appended after the rest.
//
// A second sink, TensorBoard (train.tensorboard): every line is also one event of a tfevents file
// in the same directory (runtime/train/tb_events.h), under the tags HF's Trainer uses: training
// lines as train/loss, train/learning_rate, train/grad_norm, train/samples_per_s, train/epoch and
// train/<extra> (data_wait_ms, allreduce_*); evaluation values "eval_x" as eval/x ("test_x":
// test/x). Non-finite values are left out of the events.
#ifndef DS_METRICS_LOG_H
#define DS_METRICS_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/status.h"
#include "../metrics/metrics.h"
#include "tb_events.h"

typedef struct ds_metrics_log {
    FILE *f;
    char *path;
    ds_tb_writer *tb;  // the TensorBoard sink, or NULL
} ds_metrics_log;

// One line's contents.
typedef struct ds_metrics_record {
    int64_t step;                  // optimizer steps taken
    double epoch;                  // fractional epochs done, as HF logs them
    bool has_train;                // write loss, lr, grad_norm, samples_per_s (else omit them:
                                   // an evaluation-only line)
    double loss;                   // mean training loss since the previous line
    double lr;
    double grad_norm;
    double samples_per_s;
    const ds_metric_value *extra;  // [extra_count] more values, e.g. eval_accuracy; may be NULL
    int extra_count;
} ds_metrics_record;

// Opens `path` (its folder must exist). resume_step < 0: a new run, the file starts empty.
// resume_step >= 0: keeps the existing lines up to that step (rewritten atomically when some are
// dropped) and appends. DS_ERR_IO names the file.
ds_status ds_metrics_log_open(ds_metrics_log *l, const char *path, int64_t resume_step, ds_err *err);

// Also writes every record to a new TensorBoard event file in dir; resume_step as for
// ds_metrics_log_open (>= 0: TensorBoard forgets what earlier files logged after that step).
ds_status ds_metrics_log_add_tensorboard(ds_metrics_log *l, const char *dir, int64_t resume_step, ds_err *err);

// The TensorBoard tag of a metrics-log value: "loss" -> "train/loss", "lr" -> "train/learning_rate",
// "eval_accuracy" -> "eval/accuracy", "test_f1" -> "test/f1", "data_wait_ms" -> "train/data_wait_ms".
void ds_metrics_tb_tag(const char *name, char *tag, size_t cap);

// Appends one line (and the TensorBoard event) and flushes it.
ds_status ds_metrics_log_write(ds_metrics_log *l, const ds_metrics_record *r, ds_err *err);

// The line for `r` (JSON and a '\n') into buf, truncated to cap; returns the full length as
// snprintf does.
size_t ds_metrics_record_format(const ds_metrics_record *r, char *buf, size_t cap);

void ds_metrics_log_close(ds_metrics_log *l);

#endif
