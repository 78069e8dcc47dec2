// TensorBoard's event files (runtime/train/tb_events.c through the metrics log's second sink):
// the file is read back here with an independent reader (TFRecord framing, CRC-32C computed bit by
// bit, a protobuf decoder of its own) and every event is checked: the version first, the steps,
// the tags HF's Trainer uses and the values (as fp32), non-finite values left out, SessionLog START
// on a resumed run. scripts/check_tensorboard.py checks a real run's file with the tensorboard
// package itself (not in CI: it needs that package).
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/crc32c.h"
#include "../../runtime/train/metrics_log.h"
#include "../test_util.h"

// CRC-32C bit by bit (no table): the reference for the table-driven one.
static uint32_t crc_bitwise(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void check_crc(ds_test *t) {
    ds_test_check(t, ds_crc32c("123456789", 9) == 0xE3069283u, "crc32c check value: %08x", ds_crc32c("123456789", 9));
    unsigned char buf[1000];
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (unsigned char)x;
    }
    int bad = 0;
    for (size_t n = 0; n <= sizeof buf; n += 37) bad += ds_crc32c(buf, n) != crc_bitwise(buf, n);
    ds_test_check(t, bad == 0, "crc32c table vs bitwise: %d lengths differ", bad);
    ds_test_check(t, ds_crc32c_update(ds_crc32c(buf, 300), buf + 300, 700) == ds_crc32c(buf, 1000), "crc update");
    // TFRecord's mask of 0: rotate (0) + 0xa282ead8.
    ds_test_check(t, ds_crc32c_mask(0) == 0xa282ead8u && ds_crc32c_mask(1) == (0x00020000u + 0xa282ead8u), "mask");
}

// ---- an independent reader ------------------------------------------------------------------
typedef struct value {
    char tag[64];
    float v;
} value;

typedef struct event {
    double wall_time;
    long long step;
    char file_version[32];
    int session_status;  // 0: no session_log
    value values[16];
    int nvalues;
} event;

static uint64_t get_varint(const unsigned char **p, const unsigned char *end, bool *ok) {
    uint64_t v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        const unsigned char b = *(*p)++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) return v;
    }
    *ok = false;
    return 0;
}

static uint64_t get_le(const unsigned char *p, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

// Calls field(user, number, wire, varint or fixed bits, bytes, len) for each field of a message.
typedef bool (*field_fn)(void *user, int field, int wire, uint64_t num, const unsigned char *data, size_t len);

static bool parse(const unsigned char *p, size_t n, field_fn fn, void *user) {
    const unsigned char *end = p + n;
    bool ok = true;
    while (ok && p < end) {
        const uint64_t key = get_varint(&p, end, &ok);
        const int field = (int)(key >> 3), wire = (int)(key & 7);
        uint64_t num = 0;
        const unsigned char *data = NULL;
        size_t len = 0;
        if (wire == 0) {
            num = get_varint(&p, end, &ok);
        } else if (wire == 1 || wire == 5) {
            const int bytes = wire == 1 ? 8 : 4;
            if (end - p < bytes) return false;
            num = get_le(p, bytes);
            p += bytes;
        } else if (wire == 2) {
            len = (size_t)get_varint(&p, end, &ok);
            if (!ok || (size_t)(end - p) < len) return false;
            data = p;
            p += len;
        } else {
            return false;
        }
        if (ok && !fn(user, field, wire, num, data, len)) return false;
    }
    return ok;
}

static bool value_field(void *user, int field, int wire, uint64_t num, const unsigned char *data, size_t len) {
    value *v = user;
    if (field == 1 && wire == 2) snprintf(v->tag, sizeof v->tag, "%.*s", (int)len, (const char *)data);
    if (field == 2 && wire == 5) {
        const uint32_t bits = (uint32_t)num;
        memcpy(&v->v, &bits, 4);
    }
    return true;
}

static bool summary_field(void *user, int field, int wire, uint64_t num, const unsigned char *data, size_t len) {
    (void)num;
    event *e = user;
    if (field != 1 || wire != 2 || e->nvalues >= 16) return false;
    value *v = &e->values[e->nvalues++];
    memset(v, 0, sizeof *v);
    v->v = NAN;
    return parse(data, len, value_field, v);
}

static bool session_field(void *user, int field, int wire, uint64_t num, const unsigned char *data, size_t len) {
    (void)data, (void)len;
    if (field == 1 && wire == 0) *(int *)user = (int)num;
    return true;
}

static bool event_field(void *user, int field, int wire, uint64_t num, const unsigned char *data, size_t len) {
    event *e = user;
    if (field == 1 && wire == 1) memcpy(&e->wall_time, &num, 8);
    else if (field == 2 && wire == 0) e->step = (long long)num;
    else if (field == 3 && wire == 2) snprintf(e->file_version, sizeof e->file_version, "%.*s", (int)len, (const char *)data);
    else if (field == 5 && wire == 2) return parse(data, len, summary_field, e);
    else if (field == 7 && wire == 2) return parse(data, len, session_field, &e->session_status);
    else return false;  // nothing else is written
    return true;
}

static uint32_t mask(uint32_t c) { return ((c >> 15) | (c << 17)) + 0xa282ead8u; }

// Reads every record of path; checks the framing and both CRCs. Returns the count (-1: bad file).
static int read_events(ds_test *t, const char *path, event *out, int cap) {
    size_t size = 0;
    unsigned char *buf = (unsigned char *)ds_test_read_file(path, &size);
    if (!ds_test_check(t, buf != NULL, "cannot read %s", path)) return -1;
    size_t at = 0;
    int n = 0;
    bool ok = true;
    while (ok && at < size && n < cap) {
        ok = size - at >= 12;
        const uint64_t len = ok ? get_le(buf + at, 8) : 0;
        ok = ok && get_le(buf + at + 8, 4) == mask(crc_bitwise(buf + at, 8)) && size - at - 12 >= len + 4;
        ok = ok && get_le(buf + at + 12 + len, 4) == mask(crc_bitwise(buf + at + 12, (size_t)len));
        if (!ds_test_check(t, ok, "%s: record %d at byte %zu: bad framing or CRC", path, n, at)) break;
        memset(&out[n], 0, sizeof out[n]);
        out[n].step = -1;
        ok = parse(buf + at + 12, (size_t)len, event_field, &out[n]);
        ds_test_check(t, ok, "%s: record %d: not an Event as written", path, n);
        n++;
        at += 12 + (size_t)len + 4;
    }
    ds_test_check(t, at == size, "%s: %zu trailing bytes", path, size - at);
    free(buf);
    return ok ? n : -1;
}

// The single tfevents file of dir.
static bool find_events(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strncmp(e->d_name, "events.out.tfevents.", 20) == 0) {
            snprintf(path, cap, "%s/%s", dir, e->d_name);
            found++;
        }
    if (d) closedir(d);
    return found == 1;
}

static const value *find_value(const event *e, const char *tag) {
    for (int i = 0; i < e->nvalues; i++)
        if (strcmp(e->values[i].tag, tag) == 0) return &e->values[i];
    return NULL;
}

// value == (float)want exactly: the file holds fp32, nothing is computed on the way.
static void check_value(ds_test *t, const event *e, const char *tag, double want) {
    const value *v = find_value(e, tag);
    ds_test_check(t, v && v->v == (float)want, "step %lld %s: %g, want %g", e->step, tag, v ? v->v : NAN, want);
}

static const char *fresh_dir(const char *name, char *dir, size_t cap) {
    char cmd[1200];
    ds_test_tmpfile(name, dir, cap);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) dir[0] = 0;
    return dir;
}

static void check_run(ds_test *t) {
    char dir[512], path[1100];
    fresh_dir("tb_events_run", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    ds_metrics_log l;
    ds_err err = {0};
    ds_test_check(t, ds_metrics_log_open(&l, path, -1, &err) == DS_OK, "open: %s", err.msg);
    ds_test_check(t, ds_metrics_log_add_tensorboard(&l, dir, -1, &err) == DS_OK, "tensorboard: %s", err.msg);
    const ds_metric_value extra[2] = {{"data_wait_ms", 1.25}, {"allreduce_exposed_ms", NAN}};
    const ds_metrics_record train = {.step = 10, .epoch = 0.5, .has_train = true, .loss = 0.6931471805599453,
                                     .lr = 2e-5, .grad_norm = 3.25, .samples_per_s = 123.5, .extra = extra,
                                     .extra_count = 2};
    const ds_metric_value evals[3] = {{"eval_loss", 0.5}, {"eval_accuracy", 0.875}, {"eval_macro_f1", 0.8}};
    const ds_metrics_record eval = {.step = 10, .epoch = 0.5, .extra = evals, .extra_count = 3};
    const ds_metrics_record later = {.step = 20, .epoch = 1, .has_train = true, .loss = 0.25, .lr = 1e-5,
                                     .grad_norm = 1, .samples_per_s = 100};
    ds_test_check(t, ds_metrics_log_write(&l, &train, &err) == DS_OK && ds_metrics_log_write(&l, &eval, &err) == DS_OK &&
                         ds_metrics_log_write(&l, &later, &err) == DS_OK,
                  "write: %s", err.msg);
    ds_metrics_log_close(&l);

    char events_path[1200];
    if (!ds_test_check(t, find_events(dir, events_path, sizeof events_path), "one tfevents file in %s", dir)) return;
    event ev[8];
    const int n = read_events(t, events_path, ev, 8);
    if (!ds_test_check(t, n == 4, "%d events, want 4 (version + 3 lines)", n)) return;
    ds_test_check(t, strcmp(ev[0].file_version, "brain.Event:2") == 0 && ev[0].wall_time > 1.6e9,
                  "first event: version '%s', wall time %f", ev[0].file_version, ev[0].wall_time);
    ds_test_check(t, ev[1].step == 10 && ev[2].step == 10 && ev[3].step == 20, "steps %lld %lld %lld", ev[1].step,
                  ev[2].step, ev[3].step);
    ds_test_check(t, ev[1].wall_time >= ev[0].wall_time && ev[3].wall_time >= ev[1].wall_time, "wall times ordered");
    check_value(t, &ev[1], "train/loss", 0.6931471805599453);
    check_value(t, &ev[1], "train/learning_rate", 2e-5);
    check_value(t, &ev[1], "train/grad_norm", 3.25);
    check_value(t, &ev[1], "train/samples_per_s", 123.5);
    check_value(t, &ev[1], "train/epoch", 0.5);
    check_value(t, &ev[1], "train/data_wait_ms", 1.25);
    ds_test_check(t, ev[1].nvalues == 6 && !find_value(&ev[1], "train/allreduce_exposed_ms"),
                  "the NaN value is left out: %d values", ev[1].nvalues);
    check_value(t, &ev[2], "eval/loss", 0.5);
    check_value(t, &ev[2], "eval/accuracy", 0.875);
    check_value(t, &ev[2], "eval/macro_f1", 0.8);
    ds_test_check(t, ev[2].nvalues == 3, "an evaluation line has only its metrics: %d values", ev[2].nvalues);
    check_value(t, &ev[3], "train/loss", 0.25);
    check_value(t, &ev[3], "train/epoch", 1);

    // Tags as HF names them.
    char tag[64];
    ds_metrics_tb_tag("test_accuracy", tag, sizeof tag);
    ds_test_check(t, strcmp(tag, "test/accuracy") == 0, "test_accuracy -> %s", tag);
}

// A resumed run: a new file whose first events are the version and SessionLog START at step + 1.
static void check_resume(ds_test *t) {
    char dir[512], path[1100];
    fresh_dir("tb_events_resume", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    ds_metrics_log l;
    ds_err err = {0};
    ds_test_check(t, ds_metrics_log_open(&l, path, 5, &err) == DS_OK &&
                         ds_metrics_log_add_tensorboard(&l, dir, 5, &err) == DS_OK,
                  "open resumed: %s", err.msg);
    const ds_metrics_record r = {.step = 6, .epoch = 1, .has_train = true, .loss = 1, .lr = 1, .grad_norm = 1,
                                 .samples_per_s = 1};
    ds_test_check(t, ds_metrics_log_write(&l, &r, &err) == DS_OK, "write: %s", err.msg);
    ds_metrics_log_close(&l);
    char events_path[1200];
    event ev[4];
    if (!ds_test_check(t, find_events(dir, events_path, sizeof events_path), "one tfevents file")) return;
    const int n = read_events(t, events_path, ev, 4);
    ds_test_check(t, n == 3 && strcmp(ev[0].file_version, "brain.Event:2") == 0 && ev[1].session_status == 1 &&
                         ev[1].step == 6 && ev[1].nvalues == 0 && ev[2].step == 6,
                  "resumed: %d events, START %d at step %lld", n, n > 1 ? ev[1].session_status : -1,
                  n > 1 ? ev[1].step : -1);
    // An unwritable directory is an error naming the file.
    ds_test_check(t, ds_metrics_log_open(&l, path, -1, &err) == DS_OK, "reopen");
    ds_test_check(t, ds_metrics_log_add_tensorboard(&l, "/nonexistent/dir", -1, &err) == DS_ERR_IO &&
                         strstr(err.msg, "/nonexistent/dir/events.out.tfevents.") != NULL,
                  "bad dir: %s", err.msg);
    ds_metrics_log_close(&l);
}

int main(void) {
    ds_test t = ds_test_begin("tb_events");
    check_crc(&t);
    check_run(&t);
    check_resume(&t);
    return ds_test_finish(&t);
}
