#include "tb_events.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../base/check.h"
#include "../io/crc32c.h"
#include "../io/pb_write.h"

enum { EVENT_WALL_TIME = 1, EVENT_STEP = 2, EVENT_FILE_VERSION = 3, EVENT_SUMMARY = 5, EVENT_SESSION_LOG = 7 };
enum { SUMMARY_VALUE = 1, VALUE_TAG = 1, VALUE_SIMPLE = 2, SESSION_STATUS = 1, SESSION_START = 1 };

static void le(unsigned char *out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) out[i] = (unsigned char)(v >> (8 * i));
}

void ds_tb_frame_header(const void *data, size_t n, unsigned char out_header[12], unsigned char out_footer[4]) {
    le(out_header, (uint64_t)n, 8);
    le(out_header + 8, ds_crc32c_mask(ds_crc32c(out_header, 8)), 4);
    le(out_footer, ds_crc32c_mask(ds_crc32c(data, n)), 4);
}

static ds_status write_record(ds_tb_writer *w, const ds_pb_buf *event, ds_err *err) {
    DS_REQUIRE(err, !event->failed, DS_ERR_OOM, "TensorBoard events %s: out of memory", w->path);
    unsigned char header[12], footer[4];
    ds_tb_frame_header(event->p, event->len, header, footer);
    const bool ok = fwrite(header, 1, 12, w->f) == 12 && fwrite(event->p, 1, event->len, w->f) == event->len &&
                    fwrite(footer, 1, 4, w->f) == 4 && fflush(w->f) == 0;
    DS_REQUIRE(err, ok, DS_ERR_IO, "TensorBoard events %s: cannot write: %s", w->path, strerror(errno));
    return DS_OK;
}

ds_status ds_tb_open(ds_tb_writer *w, const char *dir, int64_t resume_step, double wall_time, ds_err *err) {
    memset(w, 0, sizeof *w);
    char host[256] = "localhost";
    if (gethostname(host, sizeof host - 1) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    const size_t cap = strlen(dir) + strlen(host) + 64;
    w->path = malloc(cap);
    DS_REQUIRE(err, w->path != NULL, DS_ERR_OOM, "TensorBoard events: out of memory");
    snprintf(w->path, cap, "%s/events.out.tfevents.%lld.%s", dir, (long long)wall_time, host);
    w->f = fopen(w->path, "ab");  // a second run within the same second continues the same file
    if (!w->f) {
        const ds_status st = ds_err_set(err, DS_ERR_IO, "TensorBoard events %s: cannot create it: %s", w->path,
                                        strerror(errno));
        ds_tb_close(w);
        return st;
    }
    ds_pb_buf ev = {0};
    ds_pb_double(&ev, EVENT_WALL_TIME, wall_time);
    ds_pb_string(&ev, EVENT_FILE_VERSION, "brain.Event:2");
    ds_status st = write_record(w, &ev, err);
    ds_pb_free(&ev);
    if (st == DS_OK && resume_step >= 0) {
        ds_pb_buf log = {0};
        ds_pb_int64(&log, SESSION_STATUS, SESSION_START);
        ds_pb_double(&ev, EVENT_WALL_TIME, wall_time);
        ds_pb_int64(&ev, EVENT_STEP, resume_step + 1);
        ds_pb_message(&ev, EVENT_SESSION_LOG, &log);
        st = write_record(w, &ev, err);
        ds_pb_free(&log);
        ds_pb_free(&ev);
    }
    if (st != DS_OK) ds_tb_close(w);
    return st;
}

ds_status ds_tb_write_scalars(ds_tb_writer *w, int64_t step, double wall_time, const char *const *tags,
                              const double *values, int n, ds_err *err) {
    DS_REQUIRE(err, w->f != NULL, DS_ERR_INVALID_ARG, "TensorBoard events: not open");
    ds_pb_buf summary = {0};
    for (int i = 0; i < n; i++) {
        ds_pb_buf value = {0};
        ds_pb_string(&value, VALUE_TAG, tags[i]);
        ds_pb_float(&value, VALUE_SIMPLE, (float)values[i]);
        ds_pb_message(&summary, SUMMARY_VALUE, &value);
        ds_pb_free(&value);
    }
    ds_pb_buf ev = {0};
    ds_pb_double(&ev, EVENT_WALL_TIME, wall_time);
    ds_pb_int64(&ev, EVENT_STEP, step);
    ds_pb_message(&ev, EVENT_SUMMARY, &summary);
    const ds_status st = write_record(w, &ev, err);
    ds_pb_free(&summary);
    ds_pb_free(&ev);
    return st;
}

void ds_tb_close(ds_tb_writer *w) {
    if (w->f) fclose(w->f);
    free(w->path);
    memset(w, 0, sizeof *w);
}
