// Training progress on the terminal: a one-line bar redrawn in place when the output is a
// terminal, plain periodic lines otherwise (log files, Slurm output). Shows step/total, the
// smoothed loss, the learning rate, samples/s and the ETA. Every call takes the current time as
// an argument (ds_now_seconds() in the trainer), so the formatter is deterministic and testable.
// A ds_progress is a plain value owned by the trainer: no global state.
#ifndef DS_PROGRESS_H
#define DS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../base/log.h"

typedef enum ds_progress_mode {
    DS_PROGRESS_AUTO = 0,  // a bar when `out` is a terminal, else lines (default)
    DS_PROGRESS_BAR,
    DS_PROGRESS_LINES,
    DS_PROGRESS_OFF,
} ds_progress_mode;

// Options; defaults from ds_progress_options_default().
typedef struct ds_progress_options {
    ds_progress_mode mode;   // default DS_PROGRESS_AUTO
    FILE *out;               // default NULL: stderr
    const ds_log *log;       // lines mode: written through this log at INFO (its level and rank
                             // rules apply); NULL: plain lines to `out`. Default NULL
    double bar_interval_s;   // least time between bar redraws; default 0.1 (at most 10 Hz)
    double line_interval_s;  // least time between plain lines; default 30
    double loss_beta;        // weight of the past in the loss's moving average; default 0.95
                             // (about the last 20 steps), bias-corrected so early values are
                             // plain averages
    int width;               // bar columns; default 0: the terminal's width (100 if unknown)
} ds_progress_options;

ds_progress_options ds_progress_options_default(void);

typedef struct ds_progress {
    ds_progress_options opt;
    bool bar;              // the resolved mode: bar (true) or lines (false); off: both false
    bool off;
    int width;             // bar columns
    int64_t total;         // optimizer steps of the whole run
    int64_t start_step;    // the step the run (or the resumed run) started from
    int64_t step;          // the last step reported
    double loss_avg;       // uncorrected moving average of the loss
    double loss_weight;    // 1 - beta^k after k losses: the bias correction
    double lr;             // the last step's learning rate
    int64_t samples;       // samples processed since start
    double t_start;        // time of ds_progress_start
    double t_last;         // time of the last step reported
    double t_drawn;        // time of the last draw (-inf: never)
    bool line_open;        // a bar is on screen without its newline
} ds_progress;

// Starts reporting a run of total_steps optimizer steps, resumed at start_step (0 for a new run).
void ds_progress_start(ds_progress *p, const ds_progress_options *o, int64_t start_step, int64_t total_steps,
                       double now);

// Records optimizer step `step` (1-based, cumulative), its loss and lr, and the samples it
// consumed; draws when the interval has passed (and always on the last step). Returns whether it drew.
bool ds_progress_update(ds_progress *p, int64_t step, double loss, double lr, int64_t samples, double now);

// The status line, at most `width` columns (a bar fills what the numbers leave; no bar when there
// is no room). lines = true gives the plain-line form (no bar, with elapsed time). Writes into
// buf (truncated to cap) and returns the length written.
size_t ds_progress_format(const ds_progress *p, double now, int width, bool lines, char *buf, size_t cap);

// Erases the bar so that other output starts on a clean line; the next draw brings it back.
void ds_progress_clear(ds_progress *p);

// Draws the final state and ends the bar's line.
void ds_progress_finish(ds_progress *p, double now);

// "M:SS", or "H:MM:SS" from one hour, or "?" for a negative or non-finite time, into buf.
const char *ds_progress_duration(double seconds, char *buf, size_t cap);

#endif
