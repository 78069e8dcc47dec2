// Checkpoints (runtime/checkpoint*.c): save -> load restores the parameter block, AdamW's moments
// and step, the train state and the user JSON bit for bit; a model that does not match is named
// in the error and nothing is modified; truncated, corrupted and foreign files give clear
// errors; a write that fails half-way (file size limit) leaves the previous checkpoint intact
// and no temporary file behind; the folder keeps the newest keep_last checkpoints and the best.
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../runtime/io/checkpoint.h"
#include "../../runtime/io/checkpoint_dir.h"
#include "../../runtime/io/checksum.h"
#include "../../runtime/io/safetensors.h"
#include "../test_util.h"

static const ds_param_spec k_specs[] = {
    {.name = "embeddings.word_embeddings.weight", .ndim = 2, .shape = {11, 8}, .decay = true},
    {.name = "embeddings.LayerNorm.weight", .ndim = 1, .shape = {8}, .decay = false},
    {.name = "encoder.layer.0.attention.self.query.weight", .ndim = 2, .shape = {8, 8}, .decay = true},
    {.name = "encoder.layer.0.attention.self.query.bias", .ndim = 1, .shape = {8}, .decay = false},
    {.name = "classifier.weight", .ndim = 2, .shape = {3, 8}, .decay = true},
    {.name = "logit_scale", .ndim = 0, .decay = false},
};
enum { k_nspecs = sizeof k_specs / sizeof k_specs[0] };

static const char *k_user = "{\"id2label\":{\"0\":\"négatif\",\"1\":\"positif\"},\"model\":{\"hidden\":8}}";

typedef struct model {
    ds_param_block pb;
    ds_optim o;
} model;

static float rnd(uint32_t *x) {
    *x = *x * 1664525u + 1013904223u;
    return (float)(*x >> 8) / 16777216.0f - 0.5f;
}

// A block with random parameters and moments (padding left zero) and `step` steps taken.
static bool model_make(ds_test *t, model *m, const ds_param_spec *specs, int n, uint32_t seed, int64_t step) {
    ds_err err = {0};
    if (!ds_test_check(t, ds_param_block_init(&m->pb, specs, n, &err) == DS_OK, "%s", err.msg)) return false;
    ds_optim_options oo = ds_optim_options_default();
    if (!ds_test_check(t, ds_optim_init(&m->o, &m->pb, &oo, &err) == DS_OK, "%s", err.msg)) return false;
    for (int i = 0; i < n; i++) {
        ds_tensor p = ds_param_block_param(&m->pb, i);
        for (int64_t k = 0; k < ds_tensor_numel(&p); k++) {
            const size_t at = m->pb.offset[i] + (size_t)k;
            m->pb.params[at] = rnd(&seed);
            m->o.m[at] = rnd(&seed) * 1e-3f;
            m->o.v[at] = fabsf(rnd(&seed)) * 1e-6f;
        }
    }
    m->o.step = step;
    return true;
}

static void model_free(model *m) {
    ds_optim_free(&m->o);
    ds_param_block_free(&m->pb);
}

static bool blocks_equal(const model *a, const model *b, bool moments) {
    for (int i = 0; i < a->pb.count; i++) {
        ds_tensor p = ds_param_block_param(&a->pb, i);
        const size_t nb = ds_tensor_nbytes(&p), at = a->pb.offset[i];
        if (memcmp(a->pb.params + at, b->pb.params + at, nb) != 0) return false;
        if (moments && (memcmp(a->o.m + at, b->o.m + at, nb) != 0 || memcmp(a->o.v + at, b->o.v + at, nb) != 0))
            return false;
    }
    return true;
}

static ds_train_state sample_state(void) {
    ds_train_state s = {
        .scheduler_step = 37, .epoch = 2, .epoch_position = 123,
        .seed = UINT64_MAX - 6,                 // beyond 2^53: must survive JSON
        .shuffle_seed = 0x8000000000000001ull,
    };
    // 0.1 + 0.2 is 1 ulp from 0.3: it needs all 17 digits to come back (cJSON's own number
    // printing would write 0.3).
    ds_train_state_update_best(&s, "eval_accuracy", 0.1 + 0.2, true, 30);
    return s;
}

static bool write_bytes(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    const bool ok = fwrite(b, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static void check_roundtrip(ds_test *t, const char *path) {
    model a, b;
    if (!model_make(t, &a, k_specs, k_nspecs, 1, 37) || !model_make(t, &b, k_specs, k_nspecs, 99, 0)) return;
    const ds_train_state st = sample_state();
    ds_err err = {0};
    if (!ds_test_check(t, ds_checkpoint_save(path, &a.pb, &a.o, &st, k_user, &err) == DS_OK, "save: %s", err.msg))
        return;
    ds_train_state got;
    memset(&got, 0xAB, sizeof got);
    char *user = NULL;
    ds_test_check(t, ds_checkpoint_load(path, &b.pb, &b.o, &got, &user, &err) == DS_OK, "load: %s", err.msg);
    ds_test_check(t, blocks_equal(&a, &b, true), "params and moments bit-exact after load");
    ds_test_check(t, b.o.step == 37, "optimizer step restored: %lld", (long long)b.o.step);
    ds_test_check(t, got.scheduler_step == 37 && got.epoch == 2 && got.epoch_position == 123, "counters restored");
    ds_test_check(t, got.seed == st.seed && got.shuffle_seed == st.shuffle_seed, "64-bit seeds restored: %llu %llu",
                  (unsigned long long)got.seed, (unsigned long long)got.shuffle_seed);
    ds_test_check(t, got.has_best && memcmp(&got.best_metric, &st.best_metric, sizeof(double)) == 0 &&
                         got.best_step == 30 && strcmp(got.best_metric_name, "eval_accuracy") == 0,
                  "best metric restored bit for bit: %.17g at %lld", got.best_metric, (long long)got.best_step);
    ds_test_check(t, user && strcmp(user, k_user) == 0, "user JSON restored verbatim: %s", user ? user : "(null)");
    free(user);

    // A second save of the restored state gives the same bytes: nothing is lost or added.
    char path2[2048];
    snprintf(path2, sizeof path2, "%s.again", path);
    size_t n1 = 0, n2 = 0;
    if (ds_test_check(t, ds_checkpoint_save(path2, &b.pb, &b.o, &got, k_user, &err) == DS_OK, "%s", err.msg)) {
        unsigned char *x = (unsigned char *)ds_test_read_file(path, &n1), *y = (unsigned char *)ds_test_read_file(path2, &n2);
        ds_test_check(t, x && y && n1 == n2 && memcmp(x, y, n1) == 0, "save(load(file)) is byte-identical to file");
        free(x);
        free(y);
    }
    remove(path2);

    // Weights only: no moments in the file; loading it to resume is refused, to evaluate works.
    ds_train_state none = {0};
    if (ds_test_check(t, ds_checkpoint_save(path2, &a.pb, NULL, NULL, NULL, &err) == DS_OK, "%s", err.msg)) {
        ds_st_file f = {0};
        if (ds_st_open(path2, &f, &err) == DS_OK) {
            ds_test_check(t, f.count == k_nspecs && ds_st_find(&f, "adam_m/classifier.weight") == NULL &&
                                 ds_st_meta_get(&f, "user") == NULL,
                          "weights-only file: %d tensors, no moments, no user key", f.count);
            ds_st_close(&f);
        }
        ds_test_check(t, ds_checkpoint_load(path2, &b.pb, &b.o, NULL, NULL, &err) == DS_ERR_INVALID_ARG &&
                             strstr(err.msg, "weights only"),
                      "resume from weights only refused: %s", err.msg);
        ds_err_clear(&err);
        char *u = (char *)"x";
        ds_test_check(t, ds_checkpoint_load(path2, &b.pb, NULL, &none, &u, &err) == DS_OK && u == NULL &&
                             !none.has_best,
                      "weights only for evaluation: %s", err.msg);
    }
    // A full checkpoint loads for evaluation too (moments ignored).
    ds_test_check(t, ds_checkpoint_load(path, &b.pb, NULL, NULL, NULL, &err) == DS_OK, "%s", err.msg);
    remove(path2);
    model_free(&a);
    model_free(&b);
}

// Models that do not match the file: every problem named, nothing modified.
static void check_mismatch(ds_test *t, const char *path) {
    ds_param_spec specs[k_nspecs];
    memcpy(specs, k_specs, sizeof specs);
    snprintf(specs[4].name, sizeof specs[4].name, "classifier.out_proj.weight");  // renamed
    model m;
    ds_err err = {0};
    if (!model_make(t, &m, specs, k_nspecs, 5, 0)) return;
    const float before = m.pb.params[0];
    ds_test_check(t, ds_checkpoint_load(path, &m.pb, &m.o, NULL, NULL, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "lacks: param/classifier.out_proj.weight") &&
                         strstr(err.msg, "param/classifier.weight") && strstr(err.msg, path),
                  "renamed tensor named both ways: %s", err.msg);
    ds_test_check(t, m.pb.params[0] == before && m.o.step == 0, "nothing loaded on a mismatch");
    model_free(&m);
    ds_err_clear(&err);

    memcpy(specs, k_specs, sizeof specs);
    specs[2].shape[0] = 16;  // (16, 8) instead of (8, 8)
    if (!model_make(t, &m, specs, k_nspecs, 5, 0)) return;
    ds_test_check(t, ds_checkpoint_load(path, &m.pb, NULL, NULL, NULL, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "'param/encoder.layer.0.attention.self.query.weight' is F32 (8, 8)") &&
                         strstr(err.msg, "(16, 8)"),
                  "shape mismatch names tensor and shapes: %s", err.msg);
    model_free(&m);
    ds_err_clear(&err);

    if (!model_make(t, &m, k_specs, k_nspecs - 1, 5, 0)) return;  // one tensor fewer
    ds_test_check(t, ds_checkpoint_load(path, &m.pb, &m.o, NULL, NULL, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "the file has 3 tensor(s) the model lacks: adam_m/logit_scale"),
                  "extra tensors in the file: %s", err.msg);
    model_free(&m);
}

// Loads `path` into a fresh model and expects failure with `status` and `needle` in the message.
static void expect_load_error(ds_test *t, const char *path, ds_status status, const char *needle, const char *what) {
    model m;
    if (!model_make(t, &m, k_specs, k_nspecs, 5, 0)) return;
    ds_err err = {0};
    const ds_status st = ds_checkpoint_load(path, &m.pb, &m.o, NULL, NULL, &err);
    ds_test_check(t, st == status && strstr(err.msg, needle) && strstr(err.msg, path), "%s: got '%s' (%s)", what,
                  err.msg, ds_status_name(st));
    model_free(&m);
}

static void check_corruption(ds_test *t, const char *path) {
    size_t n = 0;
    unsigned char *good = (unsigned char *)ds_test_read_file(path, &n);
    if (!ds_test_check(t, good != NULL && n > 1000, "read %s", path)) return;
    char bad[2048];
    snprintf(bad, sizeof bad, "%s.bad", path);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | good[i];

    write_bytes(bad, good, n - 100);
    expect_load_error(t, bad, DS_ERR_FORMAT, "", "truncated by 100 bytes");
    write_bytes(bad, good, 8 + hlen / 2);
    expect_load_error(t, bad, DS_ERR_FORMAT, "", "truncated inside the header");
    write_bytes(bad, good, 0);
    expect_load_error(t, bad, DS_ERR_FORMAT, "", "empty file");

    // One flipped bit anywhere in the data section: the checksum names the tensor.
    const size_t data0 = 8 + (size_t)hlen;
    const size_t spots[] = {data0, data0 + 1, data0 + (n - data0) / 3, n - 5, n - 1};
    for (size_t i = 0; i < sizeof spots / sizeof spots[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, good, n);
        c[spots[i]] ^= (unsigned char)(1u << (i % 8));
        write_bytes(bad, c, n);
        char what[64];
        snprintf(what, sizeof what, "bit flip at data byte %zu", spots[i] - data0);
        expect_load_error(t, bad, DS_ERR_FORMAT, "does not match its checksum", what);
        free(c);
    }
    // The header's JSON broken.
    unsigned char *c = malloc(n);
    memcpy(c, good, n);
    c[8] = '[';
    write_bytes(bad, c, n);
    expect_load_error(t, bad, DS_ERR_FORMAT, "", "header JSON corrupted");
    free(c);
    free(good);

    // Well-formed safetensors files that are not (valid) checkpoints.
    char foreign[2048];
    ds_test_fixture("trainer/lr_schedule.safetensors", foreign, sizeof foreign);
    expect_load_error(t, foreign, DS_ERR_FORMAT, "is not a downstream checkpoint", "foreign file");
    float x = 1;
    ds_st_entry e = {"param/logit_scale", ds_tensor_make(&x, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, 0, NULL)};
    ds_st_meta meta[2] = {{"format", DS_CHECKPOINT_FORMAT}, {"train_state", "{\"optimizer_step\": -1}"}};
    ds_err err = {0};
    if (ds_test_check(t, ds_st_write(bad, &e, 1, meta, 2, &err) == DS_OK, "%s", err.msg))
        expect_load_error(t, bad, DS_ERR_FORMAT, "train_state.optimizer_step", "bad train_state");
    remove(bad);
}

static bool dir_has_temp(const char *dir) {
    DIR *d = opendir(dir);
    bool found = false;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, ".tmp.")) found = true;
    if (d) closedir(d);
    return found;
}

// A save that fails half-way through writing (file size limit: write() fails with EFBIG) leaves
// the previous checkpoint at that path byte for byte, and no temporary file.
static void check_atomic(ds_test *t, const char *dir) {
    char path[2048];
    snprintf(path, sizeof path, "%s/atomic.safetensors", dir);
    model a, b;
    if (!model_make(t, &a, k_specs, k_nspecs, 1, 3) || !model_make(t, &b, k_specs, k_nspecs, 2, 4)) return;
    ds_err err = {0};
    if (!ds_test_check(t, ds_checkpoint_save(path, &a.pb, &a.o, NULL, NULL, &err) == DS_OK, "%s", err.msg)) return;
    size_t n0 = 0, n1 = 0;
    unsigned char *before = (unsigned char *)ds_test_read_file(path, &n0);

    struct rlimit old, small;
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = n0 / 2;
    signal(SIGXFSZ, SIG_IGN);  // write() then fails with EFBIG instead of killing the process
    const bool limited = setrlimit(RLIMIT_FSIZE, &small) == 0;
    const ds_status st = ds_checkpoint_save(path, &b.pb, &b.o, NULL, NULL, &err);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, SIG_DFL);
    ds_test_check(t, limited && st == DS_ERR_IO && strstr(err.msg, path), "half-written save fails: %s", err.msg);
    unsigned char *after = (unsigned char *)ds_test_read_file(path, &n1);
    ds_test_check(t, before && after && n0 == n1 && memcmp(before, after, n0) == 0,
                  "the previous checkpoint is untouched");
    ds_test_check(t, !dir_has_temp(dir), "no temporary file left in %s", dir);
    model c;
    if (model_make(t, &c, k_specs, k_nspecs, 9, 0)) {
        ds_err_clear(&err);
        ds_test_check(t, ds_checkpoint_load(path, &c.pb, &c.o, NULL, NULL, &err) == DS_OK && blocks_equal(&a, &c, true),
                      "and it still loads to the old state: %s", err.msg);
        model_free(&c);
    }
    free(before);
    free(after);
    remove(path);
    model_free(&a);
    model_free(&b);
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

// checkpoint-<step> for the newest keep_last steps, checkpoint-best for the best one.
static void check_folder(ds_test *t, const char *dir) {
    char sub[1024], path[2048];
    snprintf(sub, sizeof sub, "%s/run/checkpoints", dir);  // created with its parents
    ds_checkpoint_options o = ds_checkpoint_options_default();
    o.dir = sub;
    ds_test_check(t, o.keep_last == 2 && o.keep_best, "defaults: keep_last 2, keep_best");
    model m[4];
    ds_err err = {0};
    for (int i = 0; i < 4; i++) {
        if (!model_make(t, &m[i], k_specs, k_nspecs, 100u + (uint32_t)i, 10 * (i + 1))) return;
        ds_train_state st = {.epoch = i};
        const bool best = i == 1;
        char out[2048];
        ds_test_check(t, ds_checkpoint_save_step(&o, m[i].o.step, best, &m[i].pb, &m[i].o, &st, NULL, out, sizeof out,
                                                 &err) == DS_OK,
                      "save step %d: %s", 10 * (i + 1), err.msg);
        ds_test_check(t, strcmp(out, ds_checkpoint_step_path(sub, 10 * (i + 1), path, sizeof path)) == 0, "path %s",
                      out);
    }
    int64_t steps[8];
    int n = 0;
    ds_test_check(t, ds_checkpoint_list(sub, steps, 8, &n, &err) == DS_OK && n == 2 && steps[0] == 40 && steps[1] == 30,
                  "keep_last 2: %d left (%lld, %lld)", n, (long long)steps[0], (long long)(n > 1 ? steps[1] : -1));
    snprintf(path, sizeof path, "%s/%s", sub, DS_CHECKPOINT_BEST_NAME);
    model r;
    if (model_make(t, &r, k_specs, k_nspecs, 7, 0)) {
        ds_train_state st;
        ds_test_check(t, ds_checkpoint_load(path, &r.pb, &r.o, &st, NULL, &err) == DS_OK && blocks_equal(&r, &m[1], true) &&
                             r.o.step == 20 && st.epoch == 1,
                      "checkpoint-best is step 20's, after step 20's file was rotated away: %s", err.msg);
        bool found = false;
        char latest[2048];
        ds_test_check(t, ds_checkpoint_latest(sub, latest, sizeof latest, &found, &err) == DS_OK && found &&
                             strcmp(latest, ds_checkpoint_step_path(sub, 40, path, sizeof path)) == 0,
                      "latest is step 40: %s", latest);
        model_free(&r);
    }
    // keep_last <= 0 keeps everything.
    o.keep_last = 0;
    ds_test_check(t, ds_checkpoint_save_step(&o, 50, false, &m[0].pb, &m[0].o, NULL, NULL, NULL, 0, &err) == DS_OK &&
                         ds_checkpoint_save_step(&o, 60, false, &m[0].pb, &m[0].o, NULL, NULL, NULL, 0, &err) == DS_OK,
                  "%s", err.msg);
    ds_checkpoint_list(sub, steps, 8, &n, &err);
    ds_test_check(t, n == 4, "keep_last 0 keeps all: %d", n);
    ds_test_check(t, !dir_has_temp(sub), "no temporary files");
    // Names that are not step checkpoints are ignored; an absent folder has none.
    snprintf(path, sizeof path, "%s/checkpoint-007.safetensors", sub);
    write_bytes(path, (const unsigned char *)"x", 1);
    ds_checkpoint_list(sub, steps, 8, &n, &err);
    ds_test_check(t, n == 4, "checkpoint-007 (leading zero) is not a step checkpoint: %d", n);
    remove(path);
    bool found = true;
    snprintf(path, sizeof path, "%s/nowhere", dir);
    ds_test_check(t, ds_checkpoint_latest(path, sub, sizeof sub, &found, &err) == DS_OK && !found,
                  "absent folder: no checkpoint");
    // Clean up.
    snprintf(sub, sizeof sub, "%s/run/checkpoints", dir);
    for (int64_t s = 10; s <= 60; s += 10) remove(ds_checkpoint_step_path(sub, s, path, sizeof path));
    snprintf(path, sizeof path, "%s/%s", sub, DS_CHECKPOINT_BEST_NAME);
    remove(path);
    rmdir(sub);
    snprintf(path, sizeof path, "%s/run", dir);
    rmdir(path);
    for (int i = 0; i < 4; i++) model_free(&m[i]);
}

static void check_best(ds_test *t) {
    ds_train_state s = {0};
    ds_test_check(t, !ds_train_state_update_best(&s, "eval_loss", NAN, false, 1), "NaN is never best");
    ds_test_check(t, ds_train_state_update_best(&s, "eval_loss", 0.7, false, 1), "first value is best");
    ds_test_check(t, !ds_train_state_update_best(&s, "eval_loss", 0.8, false, 2), "higher loss is not");
    ds_test_check(t, !ds_train_state_update_best(&s, "eval_loss", 0.7, false, 3), "equal is not");
    ds_test_check(t, ds_train_state_update_best(&s, "eval_loss", 0.5, false, 4) && s.best_step == 4 &&
                         s.best_metric == 0.5,
                  "lower loss is");
    ds_train_state a = {0};
    ds_train_state_update_best(&a, "eval_f1", 0.5, true, 1);
    ds_test_check(t, ds_train_state_update_best(&a, "eval_f1", 0.6, true, 2) && strcmp(a.best_metric_name, "eval_f1") == 0,
                  "greater is better");
}

static void check_save_errors(ds_test *t, const char *dir) {
    model m;
    if (!model_make(t, &m, k_specs, k_nspecs, 1, 1)) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/err.safetensors", dir);
    ds_err err = {0};
    ds_test_check(t, ds_checkpoint_save(path, &m.pb, &m.o, NULL, "{\"a\": ", &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "not valid JSON") && !exists(path),
                  "bad user JSON: %s", err.msg);
    ds_err_clear(&err);
    ds_train_state st = {.epoch = -1};
    ds_test_check(t, ds_checkpoint_save(path, &m.pb, &m.o, &st, NULL, &err) == DS_ERR_INVALID_ARG &&
                         strstr(err.msg, "epoch"),
                  "negative epoch: %s", err.msg);
    ds_err_clear(&err);
    snprintf(path, sizeof path, "%s/no/such/folder/x.safetensors", dir);
    ds_test_check(t, ds_checkpoint_save(path, &m.pb, &m.o, NULL, NULL, &err) == DS_ERR_IO && strstr(err.msg, path),
                  "unwritable path: %s", err.msg);
    model_free(&m);
}

// Every single-bit change of a buffer (lengths covering the 32-byte blocks, the 8-byte words and
// the tail) changes the checksum, and so does appending a zero byte.
static void check_checksum(ds_test *t) {
    unsigned char buf[77];
    uint32_t x = 3;
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(rnd(&x) * 256);
    int same = 0;
    for (size_t n = 1; n < sizeof buf; n += 7) {
        const uint64_t base = ds_checksum64(buf, n);
        for (size_t i = 0; i < n * 8; i++) {
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
            same += ds_checksum64(buf, n) == base;
            buf[i / 8] ^= (unsigned char)(1u << (i % 8));
        }
        unsigned char z[sizeof buf + 1] = {0};
        memcpy(z, buf, n);
        same += ds_checksum64(z, n + 1) == base;
    }
    ds_test_check(t, same == 0, "%d single-bit changes or zero appends kept the checksum", same);
    char hex[17];
    ds_test_check(t, strcmp(ds_checksum_hex(0x0123456789abcdefull, hex), "0123456789abcdef") == 0, "hex %s", hex);
}

int main(void) {
    ds_test t = ds_test_begin("checkpoint");
    char dir[512], path[1024];
    ds_test_tmpfile("ckpt", dir, sizeof dir);
    if (!ds_test_check(&t, mkdir(dir, 0777) == 0, "mkdir %s", dir)) return ds_test_finish(&t);
    snprintf(path, sizeof path, "%s/ckpt.safetensors", dir);
    check_roundtrip(&t, path);
    check_mismatch(&t, path);
    check_corruption(&t, path);
    remove(path);
    check_atomic(&t, dir);
    check_folder(&t, dir);
    check_best(&t);
    check_checksum(&t);
    check_save_errors(&t, dir);
    ds_test_check(&t, rmdir(dir) == 0, "scratch folder %s empty at the end", dir);
    return ds_test_finish(&t);
}
