// The data side of a text-classification run, built from the config: the tokenizer of
// model.path, the train/dev/test datasets (from data.train/dev/test, or data.train split by
// data.split with run.seed), the label mapping of the training set (reused for dev and test), and
// every part tokenized into a ds_text_examples store. `seed` keys the split of data.train: the
// run's seed (ctx->seed), which a resumed run takes from its checkpoint, never from run.seed.
#ifndef DS_TEXT_TASK_H
#define DS_TEXT_TASK_H

#include "../../base/log.h"
#include "../../config/config.h"
#include "text_examples.h"

typedef struct ds_text_task {
    ds_wp_tokenizer tok;
    ds_text_dataset train_set, dev_set, test_set;  // dev_set/test_set empty when split from train
    bool split_from_train;
    ds_label_map labels;        // the training set's classes (empty for regression)
    int64_t num_labels;         // head outputs: classes, or 1 for regression
    ds_problem_type problem_type;
    ds_text_examples train, dev, test;  // dev/test may hold 0 examples
} ds_text_task;

// Loads and tokenizes everything the config names; logs sizes, label counts, skipped rows and
// truncation. need_train true (training): data.train is required and tokenized, and split by
// data.split when neither data.dev nor data.test is given. need_train false (evaluation): the
// data.dev / data.test files, or, when neither is given, the dev and test parts of data.train,
// split exactly as training splits it (same seed, fractions, stratification and class ids);
// classes from data.labels, else the training file, else the first file read. model_dir: where
// the tokenizer is (model.path resolved by ds_hub_resolve, runtime/hub/hub.h); NULL: model.path.
ds_status ds_text_task_load(const ds_config *cfg, const ds_log *log, bool need_train, uint64_t seed,
                            const char *model_dir, ds_text_task *t, ds_err *err);

// What evaluating a fine-tuned model takes from the model rather than from the config or data.
typedef struct ds_text_task_model {
    const ds_label_map *labels;    // its classes in id order (config.json's id2label); ignored for regression
    ds_problem_type problem_type;  // its problem type (overrides model.problem_type)
} ds_text_task_model;

// ds_text_task_load(need_train = false) for a fine-tuned model: every file's labels map to the
// model's class ids (a label the model does not know is a bad row), so that the metrics and the
// split of data.train are those of training.
ds_status ds_text_task_load_eval(const ds_config *cfg, const ds_log *log, uint64_t seed, const ds_text_task_model *model,
                                 const char *model_dir, ds_text_task *t, ds_err *err);
void ds_text_task_free(ds_text_task *t);

// The dataset options the data.* keys give (strings point into cfg).
ds_status ds_text_task_dataset_options(const ds_config *cfg, ds_text_dataset_options *o, ds_err *err);

#endif
