// Shared by the text family's files (runtime/tasks/text/text_*.c) only: its state behind the task
// table (runtime/tasks/task.h) and the packed batch layout.
#ifndef DS_TEXT_FAMILY_INTERNAL_H
#define DS_TEXT_FAMILY_INTERNAL_H

#include "../../../data/common/label_map.h"
#include "../../../models/bert/bert.h"
#include "../task.h"
#include "text_examples.h"
#include "text_task.h"

typedef struct text_state {
    ds_task base;                     // first: a ds_task * is a text_state *
    const ds_config *cfg;             // not owned (NULL for a task wrapped around examples)
    char model_dir[4096];             // model.path resolved to a local directory (runtime/hub/hub.h)
    const ds_log *log;                // the context's log (NULL for a wrapped task)
    ds_text_task data;                // tokenizer, datasets, the training set's classes, tokenized splits
    bool data_loaded;
    const ds_text_examples *wrapped;  // a task around ready examples (tests): the training split
    ds_label_map model_labels;        // eval: the fine-tuned model's classes (config.json's id2label)
    ds_bert_model model;
    bool model_loaded;
    ds_bert_output out;               // the last forward's (eval_add reads its logits)
    ds_problem_type problem_type;
    int64_t num_labels;
} text_state;

// The classes the reports name: the model's (eval) or the training set's.
const ds_label_map *ds_text_state_labels(const text_state *s);

// The examples of split s (empty when absent).
const ds_text_examples *ds_text_state_split(const text_state *s, ds_data_split split);

// ---- the packed batch (what the loader's slot and the evaluator's buffer hold) ------------------
// A header, then ids, token types, mask ((cap_b, cap_t) I32 each, rows of T = the longest example
// of the batch), labels ((cap_b) I32) and label values ((cap_b, num_labels) F32), at 64-byte
// aligned offsets: the layout follows from the capacity in the header.
size_t ds_text_packed_bytes(size_t cap_b, int64_t cap_t, int64_t num_labels);
// Packs examples idx[0..n) of e into `packed` (ds_text_packed_bytes(cap_b, e->max_length, K) bytes).
void ds_text_pack(const ds_text_examples *e, const size_t *idx, size_t n, size_t cap_b, void *packed);
// The ds_bert_batch a packed batch holds (views into it).
void ds_text_unpack(const void *packed, ds_bert_batch *out);

// ---- evaluation (text_eval.c) ----------------------------------------------------------------
ds_status ds_text_eval_open(ds_task *t, ds_task_eval **out, ds_err *err);
ds_status ds_text_eval_add(ds_context *ctx, ds_task *t, ds_task_eval *e, const void *batch);
int ds_text_eval_buffers(ds_task_eval *e, ds_metric_buffer *out, int cap);
ds_status ds_text_eval_report(const ds_task *t, const ds_task_eval *e, const char *prefix, ds_eval_result *r,
                              ds_err *err);
void ds_text_eval_close(ds_task_eval *e);
ds_status ds_text_select_metric(const ds_task *t, const char *want, ds_metric_choice *out, ds_err *err);

// ---- commands (text_predict.c, text_bench.c) --------------------------------------------------
ds_status ds_text_predict(ds_context *ctx, const ds_config *cfg, const ds_predict_args *a);
ds_status ds_text_bench(ds_context *ctx, const ds_config *cfg, const ds_bench_env *env, FILE *out);
// text_samples.c: the run report's sample predictions (task.h's write_samples).
ds_status ds_text_write_samples(ds_context *ctx, ds_task *t, ds_data_split split, size_t batch, ds_arena *arena,
                                FILE *out);

#endif
