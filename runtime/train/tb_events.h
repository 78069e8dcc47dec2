// TensorBoard's event file, written directly: `events.out.tfevents.<unix time>.<host>` in the run's
// output directory, a sequence of TFRecords (u64 length, masked CRC-32C of the length, the data,
// masked CRC-32C of the data; little-endian) each holding one Event protocol buffer:
//   Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5;
//           SessionLog session_log = 7 }
//   Summary { repeated Value value = 1 }   Value { string tag = 1; float simple_value = 2 }
//   SessionLog { SessionStatus status = 1 }  (START = 1)
// The first event is file_version "brain.Event:2"; every later one carries the scalars of one
// metrics-log line (runtime/train/metrics_log.h is the sink that calls this).
//
// Resume: each run writes a new file (TensorBoard reads every tfevents file of the directory, in
// name order, as one run). A resumed run's file starts, after the version, with SessionLog START at
// step resume_step + 1: TensorBoard then discards what earlier files logged at that step and later
// (the interrupted run's steps that are being run again), as it does for TensorFlow's restarts.
#ifndef DS_TB_EVENTS_H
#define DS_TB_EVENTS_H

#include <stdint.h>
#include <stdio.h>

#include "../base/status.h"

typedef struct ds_tb_writer {
    FILE *f;
    char *path;
} ds_tb_writer;

// Creates the event file in dir (which must exist) and writes its first events. resume_step < 0:
// a new run; >= 0: a run resumed after that step (the SessionLog START above). wall_time: seconds
// since the epoch (the file's name takes its integer part).
ds_status ds_tb_open(ds_tb_writer *w, const char *dir, int64_t resume_step, double wall_time, ds_err *err);

// One Event at `step` with n scalar values (tags[i] = values[i], written as fp32 as TensorBoard
// stores them); flushed, so that TensorBoard sees it while the run goes on.
ds_status ds_tb_write_scalars(ds_tb_writer *w, int64_t step, double wall_time, const char *const *tags,
                              const double *values, int n, ds_err *err);

void ds_tb_close(ds_tb_writer *w);

// The TFRecord framing of data[0..n) into out (n + 16 bytes): exposed for the tests.
void ds_tb_frame_header(const void *data, size_t n, unsigned char out_header[12], unsigned char out_footer[4]);

#endif
