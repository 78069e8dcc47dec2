#include "metrics_log.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../base/check.h"

// An appending writer into a fixed buffer that counts what would not fit, as snprintf does.
typedef struct out_buf {
    char *p;
    size_t cap, len;
} out_buf;

static void put(out_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_buf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const size_t room = b->len < b->cap ? b->cap - b->len : 0;
    const int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n;
}

// A JSON string: quotes, backslashes and control characters escaped; UTF-8 passes through.
static void put_string(out_buf *b, const char *s) {
    put(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') put(b, "\\%c", *c);
        else if (*c < 0x20) put(b, "\\u%04x", *c);
        else put(b, "%c", *c);
    }
    put(b, "\"");
}

// 10 significant digits (more than fp32 carries; lr and epoch print short), null if non-finite.
static void put_number(out_buf *b, const char *key, double v) {
    put(b, ", ");
    put_string(b, key);
    if (isfinite(v)) put(b, ": %.10g", v);
    else put(b, ": null");
}

size_t ds_metrics_record_format(const ds_metrics_record *r, char *buf, size_t cap) {
    out_buf b = {buf, cap, 0};
    if (cap) buf[0] = 0;
    put(&b, "{\"step\": %lld", (long long)r->step);
    put_number(&b, "epoch", r->epoch);
    if (r->has_train) {
        put_number(&b, "loss", r->loss);
        put_number(&b, "lr", r->lr);
        put_number(&b, "grad_norm", r->grad_norm);
        put_number(&b, "samples_per_s", r->samples_per_s);
    }
    for (int i = 0; i < r->extra_count; i++) put_number(&b, r->extra[i].name, r->extra[i].value);
    put(&b, "}\n");
    return b.len;
}

// The existing lines worth keeping on resume: complete JSON objects whose step <= resume_step.
// Returns a malloc'd text (possibly empty) and whether anything was dropped.
static char *kept_lines(FILE *f, int64_t resume_step, bool *dropped) {
    size_t cap = 4096, len = 0, line_cap = 0;
    char *kept = malloc(cap), *line = NULL;
    if (!kept) return NULL;
    kept[0] = 0;
    *dropped = false;
    ssize_t n;
    while ((n = getline(&line, &line_cap, f)) > 0) {
        cJSON *o = line[n - 1] == '\n' ? cJSON_Parse(line) : NULL;  // no newline: torn by a crash
        const cJSON *step = cJSON_GetObjectItemCaseSensitive(o, "step");
        const bool keep = cJSON_IsNumber(step) && step->valuedouble <= (double)resume_step;
        cJSON_Delete(o);
        if (!keep) {
            *dropped = true;
            continue;
        }
        if (len + (size_t)n + 1 > cap) {
            while (len + (size_t)n + 1 > cap) cap *= 2;
            char *grown = realloc(kept, cap);
            if (!grown) {
                free(kept);
                free(line);
                return NULL;
            }
            kept = grown;
        }
        memcpy(kept + len, line, (size_t)n + 1);
        len += (size_t)n;
    }
    free(line);
    return kept;
}

// Replaces `path` by `text` atomically (temporary file, fsync, rename).
static ds_status rewrite(const char *path, const char *text, ds_err *err) {
    const size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    if (!tmp) return ds_err_set(err, DS_ERR_OOM, "metrics log %s: out of memory", path);
    snprintf(tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && fputs(text, f) >= 0 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    const int e = errno;
    if (f && fclose(f) != 0) ok = false;
    ok = ok && rename(tmp, path) == 0;
    ds_status st = DS_OK;
    if (!ok) {
        unlink(tmp);
        st = ds_err_set(err, DS_ERR_IO, "metrics log %s: cannot rewrite it for the resume: %s", path, strerror(e));
    }
    free(tmp);
    return st;
}

static ds_status prepare_resume(const char *path, int64_t resume_step, ds_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? DS_OK : ds_err_set(err, DS_ERR_IO, "metrics log %s: %s", path, strerror(errno));
    bool dropped = false;
    char *kept = kept_lines(f, resume_step, &dropped);
    fclose(f);
    if (!kept) return ds_err_set(err, DS_ERR_OOM, "metrics log %s: out of memory reading it", path);
    const ds_status st = dropped ? rewrite(path, kept, err) : DS_OK;
    free(kept);
    return st;
}

ds_status ds_metrics_log_open(ds_metrics_log *l, const char *path, int64_t resume_step, ds_err *err) {
    memset(l, 0, sizeof *l);
    DS_REQUIRE(err, path != NULL && path[0] != 0, DS_ERR_INVALID_ARG, "metrics log: no path given");
    if (resume_step >= 0) DS_TRY(prepare_resume(path, resume_step, err));
    l->f = fopen(path, resume_step >= 0 ? "ab" : "wb");
    if (!l->f) return ds_err_set(err, DS_ERR_IO, "metrics log %s: cannot open it for writing: %s", path, strerror(errno));
    l->path = strdup(path);
    if (!l->path) {
        ds_metrics_log_close(l);
        return ds_err_set(err, DS_ERR_OOM, "metrics log %s: out of memory", path);
    }
    return DS_OK;
}

ds_status ds_metrics_log_add_tensorboard(ds_metrics_log *l, const char *dir, int64_t resume_step, ds_err *err) {
    DS_REQUIRE(err, l->tb == NULL, DS_ERR_INVALID_ARG, "metrics log: TensorBoard events already open");
    ds_tb_writer *w = calloc(1, sizeof *w);
    DS_REQUIRE(err, w != NULL, DS_ERR_OOM, "TensorBoard events: out of memory");
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    const ds_status st = ds_tb_open(w, dir, resume_step, (double)now.tv_sec + 1e-9 * (double)now.tv_nsec, err);
    if (st != DS_OK) {
        free(w);
        return st;
    }
    l->tb = w;
    return DS_OK;
}

void ds_metrics_tb_tag(const char *name, char *tag, size_t cap) {
    if (strncmp(name, "eval_", 5) == 0) snprintf(tag, cap, "eval/%s", name + 5);
    else if (strncmp(name, "test_", 5) == 0) snprintf(tag, cap, "test/%s", name + 5);
    else if (strcmp(name, "lr") == 0) snprintf(tag, cap, "train/learning_rate");
    else snprintf(tag, cap, "train/%s", name);
}

// The record's finite values as TensorBoard scalars.
static ds_status write_events(ds_metrics_log *l, const ds_metrics_record *r, ds_err *err) {
    const int cap = 5 + r->extra_count;
    const char **tags = calloc((size_t)cap, sizeof *tags);
    double *values = calloc((size_t)cap, sizeof *values);
    char(*names)[64] = calloc((size_t)cap, sizeof *names);
    ds_status st = tags && values && names ? DS_OK : ds_err_set(err, DS_ERR_OOM, "TensorBoard events: out of memory");
    int n = 0;
    const char *train_names[5] = {"epoch", "loss", "lr", "grad_norm", "samples_per_s"};
    const double train_values[5] = {r->epoch, r->loss, r->lr, r->grad_norm, r->samples_per_s};
    for (int i = 0; st == DS_OK && r->has_train && i < 5; i++)
        if (isfinite(train_values[i])) {
            ds_metrics_tb_tag(train_names[i], names[n], sizeof names[n]);
            values[n++] = train_values[i];
        }
    for (int i = 0; st == DS_OK && i < r->extra_count; i++)
        if (isfinite(r->extra[i].value)) {
            ds_metrics_tb_tag(r->extra[i].name, names[n], sizeof names[n]);
            values[n++] = r->extra[i].value;
        }
    for (int i = 0; i < n; i++) tags[i] = names[i];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (st == DS_OK && n > 0)
        st = ds_tb_write_scalars(l->tb, r->step, (double)now.tv_sec + 1e-9 * (double)now.tv_nsec, tags, values, n,
                                 err);
    free(tags);
    free(values);
    free(names);
    return st;
}

ds_status ds_metrics_log_write(ds_metrics_log *l, const ds_metrics_record *r, ds_err *err) {
    DS_REQUIRE(err, l->f != NULL, DS_ERR_INVALID_ARG, "metrics log: not open");
    char small[1024];
    const size_t n = ds_metrics_record_format(r, small, sizeof small);
    char *line = small;
    if (n >= sizeof small) {  // many extra values
        line = malloc(n + 1);
        if (!line) return ds_err_set(err, DS_ERR_OOM, "metrics log %s: out of memory", l->path);
        ds_metrics_record_format(r, line, n + 1);
    }
    const bool ok = fwrite(line, 1, n, l->f) == n && fflush(l->f) == 0;
    if (line != small) free(line);
    DS_REQUIRE(err, ok, DS_ERR_IO, "metrics log %s: cannot write: %s", l->path, strerror(errno));
    return l->tb ? write_events(l, r, err) : DS_OK;
}

void ds_metrics_log_close(ds_metrics_log *l) {
    if (l->f) fclose(l->f);
    if (l->tb) ds_tb_close(l->tb);
    free(l->tb);
    free(l->path);
    memset(l, 0, sizeof *l);
}
