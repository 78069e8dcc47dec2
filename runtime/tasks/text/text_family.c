// The text family's table (runtime/tasks/task.h): BERT classifiers of Hugging Face checkpoints on
// CSV/TSV/JSONL text, as the trainer has always run them: the data side is text_task.h (tokenizer,
// datasets, split, tokenized examples), the model bert.h loaded by hf_bert.h, batches packed with
// dynamic padding (ds_text_batch_make), evaluation in text_eval.c, export hf_export.h, and the
// predict and bench commands in text_predict.c and text_bench.c.
#include "text_family.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../../data/common/file_read.h"
#include "../../base/check.h"
#include "../../hub/hub.h"
#include "hf_bert.h"
#include "hf_export.h"
#include "text_family_internal.h"

#define ALIGN ((size_t)64)
static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

const ds_label_map *ds_text_state_labels(const text_state *s) {
    return s->model_labels.count ? &s->model_labels : &s->data.labels;
}

const ds_text_examples *ds_text_state_split(const text_state *s, ds_data_split split) {
    if (split == DS_DATA_TRAIN && s->wrapped) return s->wrapped;
    return split == DS_DATA_TRAIN ? &s->data.train : split == DS_DATA_DEV ? &s->data.dev : &s->data.test;
}

// ---- the packed batch ----------------------------------------------------------------------

typedef struct packed_header {
    int64_t cap_b, cap_t, num_labels;  // the capacity the arrays are laid out for
    int64_t B, T;                      // this batch: examples, padded length
    int32_t labels;                    // 1: single-label ids, 2: label values, 0: no labels
} packed_header;

typedef struct packed_layout {
    size_t ids, types, mask, labels, values, bytes;
} packed_layout;

static packed_layout layout_of(size_t cap_b, int64_t cap_t, int64_t num_labels) {
    const size_t cells = cap_b * (size_t)cap_t;
    packed_layout l;
    l.ids = align_up(sizeof(packed_header));
    l.types = l.ids + align_up(cells * sizeof(int32_t));
    l.mask = l.types + align_up(cells * sizeof(int32_t));
    l.labels = l.mask + align_up(cells * sizeof(int32_t));
    l.values = l.labels + align_up(cap_b * sizeof(int32_t));
    l.bytes = l.values + align_up(cap_b * (size_t)num_labels * sizeof(float));
    return l;
}

size_t ds_text_packed_bytes(size_t cap_b, int64_t cap_t, int64_t num_labels) {
    return layout_of(cap_b, cap_t, num_labels).bytes;
}

void ds_text_pack(const ds_text_examples *e, const size_t *idx, size_t n, size_t cap_b, void *packed) {
    const packed_layout l = layout_of(cap_b, e->max_length, e->num_labels);
    char *base = packed;
    ds_text_batch_buf buf = {.ids = (int32_t *)(base + l.ids), .types = (int32_t *)(base + l.types),
                             .mask = (int32_t *)(base + l.mask), .labels = (int32_t *)(base + l.labels),
                             .label_values = (float *)(base + l.values), .cap_b = cap_b, .cap_t = e->max_length,
                             .num_labels = e->num_labels};
    ds_bert_batch b;
    ds_text_batch_make(e, idx, n, &buf, &b);
    packed_header *h = packed;
    *h = (packed_header){.cap_b = (int64_t)cap_b, .cap_t = e->max_length, .num_labels = e->num_labels, .B = b.B,
                         .T = b.T, .labels = e->labels ? 1 : e->label_values ? 2 : 0};
}

void ds_text_unpack(const void *packed, ds_bert_batch *out) {
    const packed_header *h = packed;
    const packed_layout l = layout_of((size_t)h->cap_b, h->cap_t, h->num_labels);
    const char *base = packed;
    memset(out, 0, sizeof *out);
    out->B = h->B;
    out->T = h->T;
    out->input_ids = (const int32_t *)(base + l.ids);
    out->token_type_ids = (const int32_t *)(base + l.types);
    out->attention_mask = (const int32_t *)(base + l.mask);
    out->labels = h->labels == 1 ? (const int32_t *)(base + l.labels) : NULL;
    out->label_values = h->labels == 2 ? (const float *)(base + l.values) : NULL;
}

void ds_text_batch_of_packed(const void *packed, ds_bert_batch *out) { ds_text_unpack(packed, out); }

// ---- the table -----------------------------------------------------------------------------

static void text_close(ds_task *t) {
    if (!t) return;
    text_state *s = (text_state *)t;
    if (s->model_loaded) ds_bert_free(&s->model);
    if (s->data_loaded) ds_text_task_free(&s->data);
    ds_label_map_free(&s->model_labels);
    free(s);
}

static text_state *new_state(ds_context *ctx, const ds_config *cfg) {
    text_state *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->base.family = &ds_text_task_family;
    s->cfg = cfg;
    s->log = &ctx->log;
    ds_label_map_init(&s->model_labels);
    return s;
}

static ds_status text_open_train(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    ds_err *err = &ctx->err;
    text_state *s = new_state(ctx, cfg);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "text task: out of memory");
    // model.path may name a Hub repository: its files in the shared cache.
    ds_status st = ds_hub_resolve(&ctx->log, ds_config_str(cfg, "model.path"), ds_text_task_family.name, s->model_dir,
                                  sizeof s->model_dir, err);
    if (st == DS_OK) st = ds_text_task_load(cfg, &ctx->log, true, ctx->seed, s->model_dir, &s->data, err);
    s->data_loaded = st == DS_OK;
    if (st == DS_OK && s->data.train.n == 0) st = ds_err_set(err, DS_ERR_INVALID_ARG, "the training set is empty");
    if (st == DS_OK) {
        const ds_hf_bert_options mo = {.num_labels = s->data.num_labels, .has_problem_type = true,
                                       .problem_type = s->data.problem_type};
        st = ds_hf_bert_load(ctx, s->model_dir, &mo, &s->model, NULL);
        s->model_loaded = st == DS_OK;
    }
    if (st == DS_OK) {
        const double dropout = ds_config_float(cfg, "model.dropout");
        if (dropout >= 0) {  // a training-time override, as HF's hidden_dropout_prob=... in from_pretrained
            s->model.cfg.hidden_dropout = s->model.cfg.attn_dropout = s->model.cfg.classifier_dropout = (float)dropout;
            DS_LOG_INFO(&ctx->log, "model.dropout: every dropout probability set to %g", dropout);
        }
        s->problem_type = s->data.problem_type;
        s->num_labels = s->data.num_labels;
    }
    if (st != DS_OK) {
        text_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

static ds_status text_open_eval(ds_context *ctx, const ds_config *cfg, ds_task **out) {
    ds_err *err = &ctx->err;
    DS_REQUIRE(err, ds_config_str(cfg, "model.path")[0], DS_ERR_CONFIG,
               "model.path is empty: give the fine-tuned model's directory (train.output_dir/model after training)");
    text_state *s = new_state(ctx, cfg);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "text task: out of memory");
    const char *dir = s->model_dir;
    ds_hf_bert_info info;
    memset(&info, 0, sizeof info);
    const ds_hf_bert_options mo = {.num_labels = 0};  // the head as exported
    ds_status st = ds_hub_resolve(&ctx->log, ds_config_str(cfg, "model.path"), ds_text_task_family.name, s->model_dir,
                                  sizeof s->model_dir, err);
    if (st == DS_OK) st = ds_hf_bert_load(ctx, dir, &mo, &s->model, &info);
    s->model_loaded = st == DS_OK;
    if (st == DS_OK && info.initialised > 0)
        DS_LOG_WARN(&ctx->log,
                    "%s: %d tensors were missing from the checkpoint and are random (a pretrained model, not a "
                    "fine-tuned one?): the metrics mean nothing",
                    dir, info.initialised);
    if (st == DS_OK && s->model.cfg.problem_type != DS_PROBLEM_REGRESSION) {
        char what[4200];
        snprintf(what, sizeof what, "%s/config.json: id2label", dir);
        st = ds_label_map_from_names(&s->model_labels, (const char *const *)info.id2label,
                                     (int32_t)info.config_num_labels, what, err);
    }
    ds_hf_bert_info_free(&info);
    if (st == DS_OK) {
        const ds_text_task_model tm = {.labels = &s->model_labels, .problem_type = s->model.cfg.problem_type};
        st = ds_text_task_load_eval(cfg, &ctx->log, ctx->seed, &tm, s->model_dir, &s->data, err);
        s->data_loaded = st == DS_OK;
    }
    if (st == DS_OK && s->data.dev.n == 0 && s->data.test.n == 0)
        st = ds_err_set(err, DS_ERR_INVALID_ARG, "nothing to evaluate: the dev and test sets are empty%s",
                        s->data.split_from_train ? " (data.split gives them no example)" : "");
    if (st == DS_OK) {
        s->problem_type = s->model.cfg.problem_type;
        s->num_labels = s->model.cfg.num_labels;
    }
    if (st != DS_OK) {
        text_close(&s->base);
        return st;
    }
    *out = &s->base;
    return DS_OK;
}

static ds_param_block *text_params(ds_task *t) { return &((text_state *)t)->model.params; }

static ds_status text_to_device(ds_context *ctx, ds_task *t, ds_dtype act) {
    return ds_bert_to_device(ctx, &((text_state *)t)->model, act);
}

static ds_status text_arena_bytes(ds_context *ctx, ds_task *t, size_t batch, bool training, size_t *bytes) {
    text_state *s = (text_state *)t;
    // The longest example of any split sets T (every split is truncated to model.max_length).
    int64_t T = 1;
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        const ds_text_examples *e = ds_text_state_split(s, (ds_data_split)k);
        if (e->n > 0 && e->max_length > T) T = e->max_length;
    }
    return ds_bert_arena_bytes(ctx, &s->model, (int64_t)batch, T, training, bytes);
}

static ds_status text_forward(ds_context *ctx, ds_task *t, const void *batch, bool training, uint64_t rng_step,
                              const ds_collective *coll, ds_arena *arena, double *loss) {
    (void)coll;  // BERT has no layer that spans ranks
    text_state *s = (text_state *)t;
    ds_bert_batch b;
    ds_text_unpack(batch, &b);
    DS_TRY(ds_bert_forward(ctx, &s->model, &b, training, rng_step, arena, &s->out));
    *loss = s->out.has_loss ? (double)s->out.loss : (double)NAN;
    return DS_OK;
}

// The trainer's forward: the loss stays on the model's device (one F32 scalar, what text_forward
// reads on the host), and the logits are not downloaded.
static ds_status text_forward_train(ds_context *ctx, ds_task *t, const void *batch, uint64_t rng_step,
                                    const ds_collective *coll, ds_arena *arena, ds_task_loss *loss) {
    (void)coll;  // as text_forward
    text_state *s = (text_state *)t;
    ds_bert_batch b;
    ds_text_unpack(batch, &b);
    ds_tensor term;
    DS_TRY(ds_bert_forward_train(ctx, &s->model, &b, rng_step, arena, &term));
    *loss = (ds_task_loss){.value = NAN};
    if (term.data) *loss = (ds_task_loss){.count = 1, .term = {term}, .coef = {1.0}, .round_f32 = true, .value = NAN};
    return DS_OK;
}

static ds_status text_backward(ds_context *ctx, ds_task *t, double dloss, ds_arena *arena, const ds_grad_hook *hook) {
    return ds_bert_backward_hooked(ctx, &((text_state *)t)->model, dloss, arena, hook);
}

static size_t text_count(const ds_task *t, ds_data_split split) {
    return ds_text_state_split((const text_state *)t, split)->n;
}

static size_t text_batch_bytes(const ds_task *t, size_t batch) {
    const text_state *s = (const text_state *)t;
    int64_t T = 1, K = 1;
    for (int k = 0; k < DS_DATA_SPLITS; k++) {
        const ds_text_examples *e = ds_text_state_split(s, (ds_data_split)k);
        if (e->max_length > T) T = e->max_length;
        if (e->num_labels > K) K = e->num_labels;
    }
    return ds_text_packed_bytes(batch, T, K);
}

static ds_status text_pack(const ds_task *t, ds_data_split split, const size_t *idx, size_t n, int64_t epoch,
                           void *batch, ds_batch_info *info, ds_err *err) {
    (void)epoch;  // text batches have no randomness: the order is the trainer's
    (void)err;
    const ds_text_examples *e = ds_text_state_split((const text_state *)t, split);
    // The capacity is the batch's own size: the layout only needs to fit in batch_bytes(batch),
    // and every split's examples are at most max_length long.
    ds_text_pack(e, idx, n, n, batch);
    // BERT's losses are means over the examples (cross-entropy over those whose class is not the
    // ignore index; BCE and MSE over every output of each example: a constant per example).
    double weight = (double)n;
    if (e->labels) {
        weight = 0;
        for (size_t i = 0; i < n; i++) weight += e->labels[idx[i]] != DS_LABEL_IGNORE;
    }
    *info = (ds_batch_info){.n = n, .weight = weight, .summed = false};
    return DS_OK;
}

static const int32_t *text_lengths(const ds_task *t, ds_data_split split) {
    return ds_text_state_split((const text_state *)t, split)->lengths;
}

static ds_status text_checkpoint_meta(const ds_task *t, cJSON **out, ds_err *err) {
    const text_state *s = (const text_state *)t;
    cJSON *root = NULL;
    if (s->data.labels.count) {
        DS_TRY(ds_label_map_to_json(&s->data.labels, &root, err));
    } else {
        root = cJSON_CreateObject();
    }
    DS_REQUIRE(err, root != NULL, DS_ERR_OOM, "checkpoint metadata: out of memory");
    cJSON_AddStringToObject(root, "problem_type", ds_problem_type_name(s->problem_type));
    cJSON_AddStringToObject(root, "model_path", s->cfg ? ds_config_str(s->cfg, "model.path") : "");
    *out = root;
    return DS_OK;
}

static ds_status text_export(ds_context *ctx, ds_task *t, const char *dir) {
    text_state *s = (text_state *)t;
    DS_TRY(ds_hf_export(&s->model, &s->data.labels, &s->data.tok, s->model_dir, dir, &ctx->err));
    DS_LOG_INFO(&ctx->log, "exported the fine-tuned model to %s (Hugging Face format)", dir);
    return DS_OK;
}

// A directory with a BERT config.json (model_type "bert"), as HF and `downstream train` write them.
static bool text_recognizes(const char *model_path) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", model_path);
    char *text = NULL;
    size_t size = 0;
    ds_err err;
    ds_err_clear(&err);
    if (ds_read_whole_file(path, &text, &size, &err) != DS_OK) return false;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "model_type"));
    const bool bert = type && strcmp(type, "bert") == 0;
    cJSON_Delete(root);
    return bert;
}

static const ds_config_key *text_keys(int *count) {
    *count = 0;  // the text keys (model.max_length, data.text_field, ...) predate the seam and stay
    return NULL; // in the drivers' table (runtime/config/config_keys.c), where users know them
}

const ds_task_family ds_text_task_family = {
    .name = "text_classification",
    .summary = "BERT classifiers (Hugging Face BertForSequenceClassification) on CSV/TSV/JSONL text",
    .config_keys = text_keys,
    .open_train = text_open_train,
    .open_eval = text_open_eval,
    .close = text_close,
    .params = text_params,
    .to_device = text_to_device,
    .arena_bytes = text_arena_bytes,
    .forward = text_forward,
    .backward = text_backward,
    .count = text_count,
    .batch_bytes = text_batch_bytes,
    .pack = text_pack,
    .lengths = text_lengths,
    .length_unit = "tokens",
    .eval_open = ds_text_eval_open,
    .eval_add = ds_text_eval_add,
    .eval_buffers = ds_text_eval_buffers,
    .eval_report = ds_text_eval_report,
    .eval_close = ds_text_eval_close,
    .select_metric = ds_text_select_metric,
    .checkpoint_meta = text_checkpoint_meta,
    .export_model = text_export,
    .recognizes = text_recognizes,
    .predict = ds_text_predict,
    .bench = ds_text_bench,
    .write_samples = ds_text_write_samples,
    .forward_train = text_forward_train,
};

// A family for wrapped examples: the real table, used only to pack (tests of the train loader).
ds_status ds_text_task_of_examples(const ds_text_examples *train, ds_task **out, ds_err *err) {
    text_state *s = calloc(1, sizeof *s);
    DS_REQUIRE(err, s != NULL, DS_ERR_OOM, "text task: out of memory");
    s->base.family = &ds_text_task_family;
    s->wrapped = train;
    ds_label_map_init(&s->model_labels);
    s->problem_type = train->problem_type;
    s->num_labels = train->num_labels;
    *out = &s->base;
    return DS_OK;
}
