// The Hugging Face BERT loader (runtime/tasks/text/hf_bert.h) on the checkpoints of
// scripts/fixtures/bert_cls.py and on broken variants this test writes:
// - names: a bare BertModel ("embeddings.*", no classifier), legacy "LayerNorm.gamma/.beta",
//   tensors the model does not use (ignored and logged), F16 and BF16 files;
// - a classifier the checkpoint lacks or made for other labels: initialised as HF does, from
//   the Philox stream of ctx->seed, with the statistics of Normal(0, initializer_range);
// - errors naming what is wrong: missing, duplicate, mis-shaped and mis-typed tensors,
//   pytorch_model.bin only, no weights, and bad config.json files (syntax, types, ranges,
//   unsupported activations and architectures), plus config.json's defaults and label rules.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../models/common/param_init.h"
#include "../../runtime/tasks/text/hf_bert.h"
#include "../../runtime/io/safetensors.h"
#include "../op_fixture.h"
#include "../test_util.h"

// ---- helpers ----

static const char *fixture_dir(const char *name, char *buf, size_t cap) {
    char rel[128];
    snprintf(rel, sizeof rel, "bert/%s", name);
    return ds_test_fixture(rel, buf, cap);
}

// A fresh scratch directory under the build tree.
static const char *scratch_dir(const char *name, char *buf, size_t cap) {
    ds_test_tmpfile(name, buf, cap);
    mkdir(buf, 0755);
    return buf;
}

static void write_text(const char *dir, const char *file, const char *text) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

// The log of one call, captured in memory.
typedef struct captured_log {
    FILE *f;
    char *text;
    size_t len;
} captured_log;

static void log_begin(ds_context *ctx, captured_log *c) {
    c->text = NULL;
    c->f = open_memstream(&c->text, &c->len);
    ctx->log.out = c->f;
    ctx->log.level = DS_LOG_DEBUG;
}
static void log_end(ds_context *ctx, captured_log *c) {
    fclose(c->f);
    ctx->log.out = NULL;
    ctx->log.level = DS_LOG_WARN;
}

// Every parameter except those whose index is in [skip_from, skip_to) must equal tensor
// `name` of reference file `ref` (F32) within rel_tol per element (plus abs_tol).
static void check_params_match(ds_test *t, const char *what, const ds_bert_model *m, const ds_st_file *ref,
                               int skip_from, int skip_to, double rel_tol, double abs_tol) {
    int bad = 0, compared = 0;
    for (int i = 0; i < m->params.count; i++) {
        if (i >= skip_from && i < skip_to) continue;
        const ds_st_tensor *r = ds_st_find(ref, m->params.specs[i].name);
        const ds_tensor p = ds_param_block_param(&m->params, i);
        if (!r || r->dtype != DS_F32 || (int64_t)(r->end - r->begin) != ds_tensor_numel(&p) * 4) {
            ds_test_check(t, false, "%s: reference lacks %s", what, m->params.specs[i].name);
            continue;
        }
        const float *want = r->data, *got = p.data;
        for (int64_t j = 0; j < ds_tensor_numel(&p); j++)
            if (!(fabs((double)got[j] - want[j]) <= rel_tol * fabs(want[j]) + abs_tol)) {
                if (bad++ < 3)
                    printf("  %s: %s[%lld] = %.9g, want %.9g\n", what, m->params.specs[i].name, (long long)j, got[j],
                           want[j]);
            }
        compared++;
    }
    ds_test_check(t, bad == 0 && compared > 0, "%s: %d of the compared values differ (%d tensors compared)", what, bad,
                  compared);
}

static bool open_ref(ds_test *t, ds_context *ctx, ds_st_file *ref) {
    char dir[512], path[600];
    snprintf(path, sizeof path, "%s/model.safetensors", fixture_dir("single_label", dir, sizeof dir));
    return ds_test_check(t, ds_st_open(path, ref, &ctx->err) == DS_OK, "reference: %s", ctx->err.msg);
}

// ---- name handling and dtypes ----

static void check_bare(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    ds_bert_model m;
    ds_hf_bert_info info;
    captured_log log;
    const ds_hf_bert_options opt = {.num_labels = 3};
    log_begin(ctx, &log);
    const ds_status s = ds_hf_bert_load(ctx, fixture_dir("bare", dir, sizeof dir), &opt, &m, &info);
    log_end(ctx, &log);
    if (!ds_test_check(t, s == DS_OK, "bare BertModel checkpoint: %s", ctx->err.msg)) return free(log.text);
    const int cls = m.first_head_param + DS_BH_CLS_W;
    ds_test_check(t, info.loaded == m.params.count - 2 && info.initialised == 2 && info.ignored == 0,
                  "bare: loaded %d, initialised %d, ignored %d (want %d, 2, 0)", info.loaded, info.initialised,
                  info.ignored, m.params.count - 2);
    check_params_match(t, "bare (no \"bert.\" prefix), pooler included", &m, ref, cls, cls + 2, 0, 0);
    ds_test_check(t, strstr(log.text, "initialised as HF does") && strstr(log.text, "classifier.weight") &&
                         strstr(log.text, "classifier.bias") && !strstr(log.text, "pooler.dense"),
                  "bare: the log does not name exactly the initialised classifier:\n%s", log.text);
    ds_hf_bert_info_free(&info);
    ds_bert_free(&m);
    free(log.text);
}

static void check_legacy(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    ds_bert_model m;
    ds_hf_bert_info info;
    captured_log log;
    log_begin(ctx, &log);
    const ds_status s = ds_hf_bert_load(ctx, fixture_dir("legacy", dir, sizeof dir), NULL, &m, &info);
    log_end(ctx, &log);
    if (!ds_test_check(t, s == DS_OK, "legacy gamma/beta checkpoint: %s", ctx->err.msg)) return free(log.text);
    ds_test_check(t, info.loaded == m.params.count && info.initialised == 0 && info.ignored == 3,
                  "legacy: loaded %d of %d, initialised %d, ignored %d (want 3)", info.loaded, m.params.count,
                  info.initialised, info.ignored);
    check_params_match(t, "legacy LayerNorm.gamma/.beta", &m, ref, 0, 0, 0, 0);
    ds_test_check(t, strstr(log.text, "3 tensors not used by the model (ignored)") &&
                         strstr(log.text, "bert.embeddings.position_ids") && strstr(log.text, "cls.predictions.bias") &&
                         strstr(log.text, "cls.predictions.transform.dense.weight"),
                  "legacy: the log does not list the ignored tensors:\n%s", log.text);
    ds_hf_bert_info_free(&info);
    ds_bert_free(&m);
    free(log.text);
}

// F16 keeps 11 significant bits (round to nearest: relative error <= 2^-11, and <= 2^-25
// absolute below the smallest normal half); BF16 keeps 8 (<= 2^-8). Tighter would fail on
// honest rounding; a missing conversion (bits read as F32) is off by orders of magnitude.
static void check_half(ds_test *t, ds_context *ctx, const ds_st_file *ref, const char *name, double rel, double abs) {
    char dir[512], what[64];
    ds_bert_model m;
    if (!ds_test_check(t, ds_hf_bert_load(ctx, fixture_dir(name, dir, sizeof dir), NULL, &m, NULL) == DS_OK,
                       "%s checkpoint: %s", name, ctx->err.msg))
        return;
    snprintf(what, sizeof what, "%s weights converted to F32", name);
    check_params_match(t, what, &m, ref, 0, 0, rel, abs);
    ds_bert_free(&m);
}

// IEEE half -> float for all 65536 bit patterns against a reference built from ldexp.
static void check_f16_exhaustive(ds_test *t) {
    int bad = 0;
    for (unsigned h = 0; h < 65536; h++) {
        const int sign = h >> 15, e = (h >> 10) & 31, man = h & 1023;
        double want = e == 31 ? (man ? NAN : INFINITY) : (e == 0 ? ldexp(man, -24) : ldexp(1024 + man, e - 25));
        if (sign) want = -want;
        const float got = ds_f16_to_f32((unsigned short)h);
        if (!(got == want || (isnan(got) && isnan(want)))) bad++;
    }
    ds_test_check(t, bad == 0, "ds_f16_to_f32: %d of 65536 half values converted wrongly", bad);
}

// ---- new heads ----

// HF initialises a new classifier's weight ~ Normal(0, initializer_range) (0.1 in these
// configs) and its bias to 0. With n = 200 x 32 = 6400 draws, the sample mean has standard
// deviation 0.1 / 80 and the sample std a relative one of 1 / sqrt(2n) = 0.9%: 5-sigma bounds
// are |mean| < 6.3e-3 and |std / 0.1 - 1| < 4.4% (a wrong std, e.g. 0.02 or 1, fails by far).
static void check_classifier_init(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    ds_bert_model m, m2, m3;
    captured_log log;
    const ds_hf_bert_options opt = {.num_labels = 200};
    fixture_dir("bare", dir, sizeof dir);
    log_begin(ctx, &log);
    ctx->seed = 1234;
    ds_status s = ds_hf_bert_load(ctx, dir, &opt, &m, NULL);
    log_end(ctx, &log);
    if (!ds_test_check(t, s == DS_OK, "bare with 200 labels: %s", ctx->err.msg)) return free(log.text);
    ds_test_check(t, strstr(log.text, "num_labels 3, the dataset 200: using 200") != NULL,
                  "the log does not report the num_labels override:\n%s", log.text);
    const ds_tensor w = ds_param_block_param(&m.params, m.first_head_param + DS_BH_CLS_W);
    const ds_tensor b = ds_param_block_param(&m.params, m.first_head_param + DS_BH_CLS_B);
    const int64_t n = ds_tensor_numel(&w);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < n; i++) sum += ((const float *)w.data)[i];
    const double mean = sum / (double)n;
    for (int64_t i = 0; i < n; i++) sq += pow(((const float *)w.data)[i] - mean, 2);
    const double sd = sqrt(sq / (double)(n - 1)), range = m.cfg.initializer_range;
    ds_test_check(t, n == 6400 && fabs(mean) < 5 * range / sqrt((double)n) && fabs(sd / range - 1) < 5 / sqrt(2.0 * n),
                  "classifier weight: n %lld, mean %.4e, std %.4e (want ~Normal(0, %g))", (long long)n, mean, sd, range);
    bool zero = true;
    for (int64_t i = 0; i < ds_tensor_numel(&b); i++) zero &= ((const float *)b.data)[i] == 0.0f;
    ds_test_check(t, zero && ds_tensor_numel(&b) == 200, "classifier bias is not 200 zeros");
    // The encoder is still the checkpoint's; the draw depends on the seed alone.
    check_params_match(t, "bare with 200 labels: encoder", &m, ref, m.first_head_param + 2, m.params.count, 0, 0);
    ctx->log.level = DS_LOG_WARN;
    s = ds_hf_bert_load(ctx, dir, &opt, &m2, NULL);
    ctx->seed = 99;
    s = s == DS_OK ? ds_hf_bert_load(ctx, dir, &opt, &m3, NULL) : s;
    ctx->seed = 0;
    if (ds_test_check(t, s == DS_OK, "reloads: %s", ctx->err.msg)) {
        const size_t bytes = (size_t)n * sizeof(float);
        const ds_tensor w2 = ds_param_block_param(&m2.params, m2.first_head_param + DS_BH_CLS_W);
        const ds_tensor w3 = ds_param_block_param(&m3.params, m3.first_head_param + DS_BH_CLS_W);
        ds_test_check(t, memcmp(w.data, w2.data, bytes) == 0, "same seed, different classifier weights");
        ds_test_check(t, memcmp(w.data, w3.data, bytes) != 0, "seeds 1234 and 99 give the same classifier weights");
        ds_bert_free(&m2), ds_bert_free(&m3);
    }
    ds_bert_free(&m);
    free(log.text);
}

// A checkpoint trained for 3 labels, loaded for 5: the classifier restarts (HF's
// ignore_mismatched_sizes), with a warning; everything else loads.
static void check_label_count_change(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    ds_bert_model m;
    ds_hf_bert_info info;
    captured_log log;
    const ds_hf_bert_options opt = {.num_labels = 5};
    log_begin(ctx, &log);
    const ds_status s = ds_hf_bert_load(ctx, fixture_dir("single_label", dir, sizeof dir), &opt, &m, &info);
    log_end(ctx, &log);
    if (!ds_test_check(t, s == DS_OK, "3-label checkpoint for 5 labels: %s", ctx->err.msg)) return free(log.text);
    ds_test_check(t, info.initialised == 2 && info.loaded == m.params.count - 2 && m.cfg.num_labels == 5,
                  "5 labels: loaded %d, initialised %d, num_labels %lld", info.loaded, info.initialised,
                  (long long)m.cfg.num_labels);
    ds_test_check(t, strstr(log.text, "'classifier.weight' is (3, 32) but the model's classifier.weight is (5, 32)") &&
                         strstr(log.text, "re-initialised"),
                  "5 labels: the log does not explain the new classifier:\n%s", log.text);
    check_params_match(t, "3-label checkpoint for 5 labels: encoder", &m, ref, m.first_head_param + 2, m.params.count,
                       0, 0);
    ds_hf_bert_info_free(&info);
    ds_bert_free(&m);
    free(log.text);
}

// ds_init_normal over 10^6 draws: mean, std and the mass within 1 and 2 std match the normal
// distribution to 5 standard errors (mean 5/1000, std 5/1414 relative, masses 5 sqrt(p(1-p)/n)).
static void check_init_normal(ds_test *t) {
    enum { N = 1000000 };
    float *x = malloc(N * sizeof(float));
    ds_init_normal(x, N, 2.0, 7, 3);
    double sum = 0, sq = 0;
    int64_t in1 = 0, in2 = 0;
    for (int i = 0; i < N; i++) sum += x[i];
    const double mean = sum / N;
    for (int i = 0; i < N; i++) {
        sq += (x[i] - mean) * (x[i] - mean);
        in1 += fabs(x[i]) < 2.0;
        in2 += fabs(x[i]) < 4.0;
    }
    const double sd = sqrt(sq / (N - 1)), p1 = 0.682689492, p2 = 0.954499736;
    ds_test_check(t, fabs(mean) < 5 * 2.0 / 1000 && fabs(sd / 2.0 - 1) < 5 / sqrt(2.0 * N) &&
                         fabs((double)in1 / N - p1) < 5 * sqrt(p1 * (1 - p1) / N) &&
                         fabs((double)in2 / N - p2) < 5 * sqrt(p2 * (1 - p2) / N),
                  "ds_init_normal(std 2): mean %.4e, std %.5f, P(<1 sd) %.5f, P(<2 sd) %.5f", mean, sd,
                  (double)in1 / N, (double)in2 / N);
    float odd[5];
    ds_init_normal(odd, 5, 2.0, 7, 3);
    ds_test_check(t, memcmp(odd, x, sizeof odd) == 0, "ds_init_normal: a prefix of the stream differs with n");
    free(x);
}

// ---- errors ----

// A scratch checkpoint: single_label's config.json and tensors, edited by `edit`.
typedef void (*edit_fn)(ds_st_entry *entries, int *count, void *scratch);

static void make_variant(ds_context *ctx, const ds_st_file *ref, const char *dir, edit_fn edit, void *scratch) {
    char src[512], path[600];
    snprintf(path, sizeof path, "%s/config.json", fixture_dir("single_label", src, sizeof src));
    char *config = ds_test_read_file(path, NULL);
    write_text(dir, "config.json", config ? config : "");
    free(config);
    ds_st_entry *entries = calloc((size_t)ref->count + 2, sizeof *entries);
    int count = 0;
    for (int i = 0; i < ref->count; i++) {
        const ds_st_tensor *r = &ref->tensors[i];
        entries[count].name = r->name;
        entries[count].tensor = ds_tensor_make((void *)r->data, r->dtype, (ds_device){DS_DEVICE_CPU, 0}, r->ndim, r->shape);
        count++;
    }
    if (edit) edit(entries, &count, scratch);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (ds_st_write(path, entries, count, NULL, 0, &ctx->err) != DS_OK) printf("FAIL: writing %s: %s\n", path, ctx->err.msg);
    free(entries);
}

static int find_entry(ds_st_entry *e, int count, const char *name) {
    for (int i = 0; i < count; i++)
        if (strcmp(e[i].name, name) == 0) return i;
    return -1;
}

static void drop_one(ds_st_entry *e, int *count, void *scratch) {
    (void)scratch;
    const int i = find_entry(e, *count, "bert.encoder.layer.1.output.dense.weight");
    if (i >= 0) e[i] = e[--*count];
}

static void reshape_one(ds_st_entry *e, int *count, void *scratch) {
    const int i = find_entry(e, *count, "bert.encoder.layer.0.intermediate.dense.weight");
    if (i >= 0) e[i].tensor = ds_tensor_cpu2(scratch, DS_F32, 36, 32);
}

static void duplicate_one(ds_st_entry *e, int *count, void *scratch) {
    (void)scratch;
    const int i = find_entry(e, *count, "bert.pooler.dense.bias");
    if (i >= 0) {
        e[*count] = e[i];
        e[*count].name = "pooler.dense.bias";
        (*count)++;
    }
}

static void retype_one(ds_st_entry *e, int *count, void *scratch) {
    const int i = find_entry(e, *count, "bert.embeddings.LayerNorm.bias");
    if (i >= 0) e[i].tensor = ds_tensor_cpu1(scratch, DS_I64, 32);
}

static void expect_load_error(ds_test *t, ds_context *ctx, const char *what, const char *dir, ds_status want,
                              const char *needle, const char *needle2) {
    ds_err_clear(&ctx->err);  // a failure earlier in the test must not mask this one's message
    ds_bert_model m;
    const ds_status s = ds_hf_bert_load(ctx, dir, NULL, &m, NULL);
    const bool has2 = !needle2 || strstr(ctx->err.msg, needle2);
    if (!has2) ds_test_check(t, false, "%s: the message lacks '%s': %s", what, needle2, ctx->err.msg);
    if (ds_test_error(t, what, &ctx->err, s, want, needle) && s == DS_OK) ds_bert_free(&m);
    ds_test_check(t, m.params.params == NULL, "%s: the model was not left freed", what);
}

static void drop_pooler(ds_st_entry *e, int *count, void *scratch) {
    (void)scratch;
    for (int k = 0; k < 2; k++) {
        const int i = find_entry(e, *count, k ? "bert.pooler.dense.bias" : "bert.pooler.dense.weight");
        if (i >= 0) e[i] = e[--*count];
    }
}

// A checkpoint without a pooler (a BertModel saved with add_pooling_layer=False): the pooler
// is initialised like the classifier, and the log says so.
static void check_missing_pooler(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    make_variant(ctx, ref, scratch_dir("no_pooler", dir, sizeof dir), drop_pooler, NULL);
    ds_bert_model m;
    ds_hf_bert_info info;
    captured_log log;
    log_begin(ctx, &log);
    const ds_status s = ds_hf_bert_load(ctx, dir, NULL, &m, &info);
    log_end(ctx, &log);
    if (!ds_test_check(t, s == DS_OK, "no pooler: %s", ctx->err.msg)) return free(log.text);
    const int pw = m.first_head_param + DS_BH_POOL_W;
    ds_test_check(t, info.initialised == 2 && info.loaded == m.params.count - 2,
                  "no pooler: loaded %d, initialised %d", info.loaded, info.initialised);
    ds_test_check(t, strstr(log.text, "initialised as HF does") && strstr(log.text, "bert.pooler.dense.weight") &&
                         strstr(log.text, "bert.pooler.dense.bias") && !strstr(log.text, "classifier.weight"),
                  "no pooler: the log does not name exactly the initialised pooler:\n%s", log.text);
    check_params_match(t, "no pooler: the rest", &m, ref, pw, pw + 2, 0, 0);
    const ds_tensor b = ds_param_block_param(&m.params, pw + 1), w = ds_param_block_param(&m.params, pw);
    double sq = 0;
    bool zero = true;
    for (int64_t i = 0; i < ds_tensor_numel(&b); i++) zero &= ((const float *)b.data)[i] == 0.0f;
    for (int64_t i = 0; i < ds_tensor_numel(&w); i++) sq += pow(((const float *)w.data)[i], 2);
    // 1024 draws of Normal(0, 0.1): the root mean square lies within 5 x 2.2% of 0.1.
    const double rms = sqrt(sq / (double)ds_tensor_numel(&w));
    ds_test_check(t, zero && fabs(rms / 0.1 - 1) < 0.11, "no pooler: bias zero %d, weight rms %.4f (want ~0.1)", zero,
                  rms);
    ds_hf_bert_info_free(&info);
    ds_bert_free(&m);
    free(log.text);
}

static void check_weight_errors(ds_test *t, ds_context *ctx, const ds_st_file *ref) {
    char dir[512];
    float *scratch = calloc(36 * 37, sizeof(float));
    make_variant(ctx, ref, scratch_dir("missing", dir, sizeof dir), drop_one, NULL);
    expect_load_error(t, ctx, "a missing encoder tensor", dir, DS_ERR_FORMAT, "lacks 1 of the model's tensors",
                      "bert.encoder.layer.1.output.dense.weight");
    make_variant(ctx, ref, scratch_dir("shape", dir, sizeof dir), reshape_one, scratch);
    expect_load_error(t, ctx, "a tensor of the wrong shape", dir, DS_ERR_FORMAT,
                      "'bert.encoder.layer.0.intermediate.dense.weight' has shape (36, 32)", "is (37, 32)");
    make_variant(ctx, ref, scratch_dir("duplicate", dir, sizeof dir), duplicate_one, NULL);
    expect_load_error(t, ctx, "two names for one tensor", dir, DS_ERR_FORMAT,
                      "tensors 'bert.pooler.dense.bias' and 'pooler.dense.bias' both hold", NULL);
    make_variant(ctx, ref, scratch_dir("dtype", dir, sizeof dir), retype_one, scratch);
    expect_load_error(t, ctx, "an I64 weight", dir, DS_ERR_FORMAT,
                      "'bert.embeddings.LayerNorm.bias' has dtype I64", NULL);
    // pytorch_model.bin only: say that safetensors is needed and how to convert.
    scratch_dir("bin_only", dir, sizeof dir);
    write_text(dir, "config.json", "{\"model_type\": \"bert\"}");
    write_text(dir, "pytorch_model.bin", "not read");
    expect_load_error(t, ctx, "pytorch_model.bin only", dir, DS_ERR_UNSUPPORTED,
                      "has pytorch_model.bin but no model.safetensors", "save_file(");
    scratch_dir("no_weights", dir, sizeof dir);
    write_text(dir, "config.json", "{\"model_type\": \"bert\"}");
    expect_load_error(t, ctx, "no weights at all", dir, DS_ERR_IO, "model.safetensors", NULL);
    scratch_dir("sharded", dir, sizeof dir);
    write_text(dir, "config.json", "{\"model_type\": \"bert\"}");
    write_text(dir, "model.safetensors.index.json", "{}");
    expect_load_error(t, ctx, "a sharded checkpoint", dir, DS_ERR_UNSUPPORTED, "sharded checkpoint", NULL);
    expect_load_error(t, ctx, "no such directory", "/nonexistent/bert", DS_ERR_IO, "/nonexistent/bert/config.json",
                      NULL);
    // HF refuses single-label classification with one label.
    fixture_dir("single_label", dir, sizeof dir);
    ds_bert_model m;
    const ds_hf_bert_options one = {.num_labels = 1, .has_problem_type = true, .problem_type = DS_PROBLEM_SINGLE_LABEL};
    ds_test_error(t, "single-label with 1 label", &ctx->err, ds_hf_bert_load(ctx, dir, &one, &m, NULL),
                  DS_ERR_INVALID_ARG, "single_label_classification needs num_labels > 1");
    free(scratch);
}

// ---- config.json ----

static ds_status parse(ds_context *ctx, const char *json, ds_bert_config *cfg, ds_hf_bert_info *info) {
    char dir[512], path[600];
    scratch_dir("config", dir, sizeof dir);
    write_text(dir, "config.json", json);
    snprintf(path, sizeof path, "%s/config.json", dir);
    return ds_hf_bert_read_config(ctx, path, cfg, info);
}

static void check_config_errors(ds_test *t, ds_context *ctx) {
    const struct {
        const char *json, *needle;
        ds_status want;
    } cases[] = {
        {"{\"hidden_size\": 32,", "not valid JSON", DS_ERR_FORMAT},
        {"[1, 2]", "top level must be a JSON object", DS_ERR_FORMAT},
        {"{\"hidden_act\": \"relu\"}", "hidden_act \"relu\" is not supported", DS_ERR_UNSUPPORTED},
        {"{\"hidden_act\": \"gelu_new\"}", "hidden_act \"gelu_new\" is not supported", DS_ERR_UNSUPPORTED},
        {"{\"model_type\": \"roberta\"}", "model_type \"roberta\" is not \"bert\"", DS_ERR_UNSUPPORTED},
        {"{\"position_embedding_type\": \"relative_key\"}", "position_embedding_type \"relative_key\"", DS_ERR_UNSUPPORTED},
        {"{\"is_decoder\": true}", "is_decoder must be false", DS_ERR_UNSUPPORTED},
        {"{\"hidden_size\": \"32\"}", "\"hidden_size\" must be an integer", DS_ERR_FORMAT},
        {"{\"num_hidden_layers\": 2.5}", "\"num_hidden_layers\" must be an integer", DS_ERR_FORMAT},
        {"{\"vocab_size\": 0}", "\"vocab_size\" = 0 is outside", DS_ERR_FORMAT},
        {"{\"hidden_size\": 30, \"num_attention_heads\": 4}", "hidden_size 30 is not a multiple of num_attention_heads 4",
         DS_ERR_FORMAT},
        {"{\"hidden_dropout_prob\": 1.5}", "\"hidden_dropout_prob\" = 1.5 is outside", DS_ERR_FORMAT},
        {"{\"layer_norm_eps\": \"1e-12\"}", "\"layer_norm_eps\" must be a number", DS_ERR_FORMAT},
        {"{\"classifier_dropout\": \"x\"}", "\"classifier_dropout\" must be a number or null", DS_ERR_FORMAT},
        {"{\"pad_token_id\": 99, \"vocab_size\": 99}", "\"pad_token_id\" = 99 is outside [0, 98]", DS_ERR_FORMAT},
        {"{\"problem_type\": \"ranking\"}", "problem_type \"ranking\" is not one of", DS_ERR_FORMAT},
        {"{\"id2label\": {\"0\": \"a\", \"2\": \"b\"}}", "\"id2label\" key \"2\" is not a distinct class id", DS_ERR_FORMAT},
        {"{\"id2label\": {\"0\": 1}}", "\"id2label\"[\"0\"] must be a string", DS_ERR_FORMAT},
        {"{\"id2label\": [\"a\"]}", "\"id2label\" must be an object", DS_ERR_FORMAT},
        {"{\"id2label\": {\"0\": \"a\", \"1\": \"b\"}, \"num_labels\": 3}",
         "\"num_labels\" = 3 disagrees with the 2 entries of id2label", DS_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ds_bert_config cfg;
        ds_hf_bert_info info;
        char what[160];
        snprintf(what, sizeof what, "config.json %s", cases[i].json);
        ds_test_error(t, what, &ctx->err, parse(ctx, cases[i].json, &cfg, &info), cases[i].want, cases[i].needle);
    }
    ds_bert_config cfg;
    ds_test_error(t, "no config.json", &ctx->err, ds_hf_bert_read_config(ctx, "/nonexistent/config.json", &cfg, NULL),
                  DS_ERR_IO, "cannot open /nonexistent/config.json");
}

static void check_config_values(ds_test *t, ds_context *ctx) {
    ds_bert_config c;
    ds_hf_bert_info info;
    // Absent keys take BertConfig's defaults; num_labels HF's 2; problem type single-label.
    if (ds_test_check(t, parse(ctx, "{}", &c, &info) == DS_OK, "empty config: %s", ctx->err.msg)) {
        ds_test_check(t, c.vocab_size == 30522 && c.hidden == 768 && c.layers == 12 && c.heads == 12 &&
                             c.intermediate == 3072 && c.max_position == 512 && c.type_vocab == 2 &&
                             c.ln_eps == 1e-12 && c.hidden_dropout == 0.1f && c.attn_dropout == 0.1f &&
                             c.classifier_dropout < 0 && c.initializer_range == 0.02 && c.pad_token_id == 0 &&
                             c.num_labels == 2 && c.problem_type == DS_PROBLEM_SINGLE_LABEL && !info.config_problem_type,
                      "empty config: not BertConfig's defaults");
        ds_test_check(t, info.config_num_labels == 2 && strcmp(info.id2label[1], "LABEL_1") == 0,
                      "empty config: label names are not LABEL_0, LABEL_1");
        ds_hf_bert_info_free(&info);
    }
    // num_labels without id2label; 1 label is regression by HF's rule; nulls.
    if (ds_test_check(t, parse(ctx, "{\"num_labels\": 1, \"pad_token_id\": null, \"classifier_dropout\": 0.3}", &c,
                               NULL) == DS_OK, "num_labels 1: %s", ctx->err.msg))
        ds_test_check(t, c.num_labels == 1 && c.problem_type == DS_PROBLEM_REGRESSION && c.pad_token_id == -1 &&
                             c.classifier_dropout == 0.3f,
                      "num_labels 1: %lld labels, problem %d, pad %lld, classifier dropout %g", (long long)c.num_labels,
                      (int)c.problem_type, (long long)c.pad_token_id, (double)c.classifier_dropout);
    // The fixture configs as transformers wrote them.
    char dir[512], path[600];
    snprintf(path, sizeof path, "%s/config.json", fixture_dir("multi_label", dir, sizeof dir));
    if (ds_test_check(t, ds_hf_bert_read_config(ctx, path, &c, &info) == DS_OK, "%s: %s", path, ctx->err.msg)) {
        ds_test_check(t, c.vocab_size == 99 && c.hidden == 32 && c.layers == 2 && c.heads == 4 && c.intermediate == 37 &&
                             c.max_position == 64 && c.num_labels == 4 && c.problem_type == DS_PROBLEM_MULTI_LABEL &&
                             info.config_problem_type && c.classifier_dropout == 0.2f && c.initializer_range == 0.1 &&
                             strcmp(info.id2label[3], "LABEL_3") == 0,
                      "multi_label config.json read wrongly");
        ds_hf_bert_info_free(&info);
    }
    snprintf(path, sizeof path, "%s/config.json", fixture_dir("single_label", dir, sizeof dir));
    if (ds_test_check(t, ds_hf_bert_read_config(ctx, path, &c, NULL) == DS_OK, "%s: %s", path, ctx->err.msg))
        ds_test_check(t, c.num_labels == 3 && c.problem_type == DS_PROBLEM_SINGLE_LABEL && c.classifier_dropout < 0 &&
                             ds_bert_classifier_dropout(&c) == 0.1f,
                      "single_label config.json: classifier dropout null must fall back to hidden_dropout_prob");
}

// Removes the scratch directories (and what this test wrote into them).
static void remove_scratch(void) {
    static const char *const dirs[] = {"missing", "shape", "duplicate", "dtype", "bin_only", "no_weights",
                                       "sharded", "config", "no_pooler"};
    static const char *const files[] = {"config.json", "model.safetensors", "pytorch_model.bin",
                                        "model.safetensors.index.json"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char dir[512], path[600];
        ds_test_tmpfile(dirs[i], dir, sizeof dir);
        for (size_t j = 0; j < sizeof files / sizeof files[0]; j++) {
            snprintf(path, sizeof path, "%s/%s", dir, files[j]);
            remove(path);
        }
        remove(dir);
    }
}

int main(void) {
    ds_test t = ds_test_begin("hf_loader");
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_WARN;
    ds_st_file ref;
    if (open_ref(&t, &ctx, &ref)) {
        check_bare(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        check_legacy(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        check_half(&t, &ctx, &ref, "f16", 1.0 / 2048, 1.0 / (1 << 25));
        ds_err_clear(&ctx.err);
        check_half(&t, &ctx, &ref, "bf16", 1.0 / 256, 0);
        ds_err_clear(&ctx.err);
        check_classifier_init(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        check_label_count_change(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        check_missing_pooler(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        check_weight_errors(&t, &ctx, &ref);
        ds_err_clear(&ctx.err);
        ds_st_close(&ref);
    }
    check_f16_exhaustive(&t);
    check_init_normal(&t);
    check_config_errors(&t, &ctx);
    check_config_values(&t, &ctx);
    remove_scratch();
    return ds_test_finish(&t);
}
