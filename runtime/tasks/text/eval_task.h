// `downstream eval`: a fine-tuned model (model.path, a Hugging Face directory such as `downstream
// train` exports) evaluated on data.dev and/or data.test, or, when only data.train is given, on
// the dev and test parts of it split exactly as training splits it. Labels map to the model's
// class ids (config.json's id2label), so metrics and confusion matrices mean what they meant in
// training; with the training run's batch size and max length the figures equal the trainer's.
#ifndef DS_EVAL_TASK_H
#define DS_EVAL_TASK_H

#include <stdbool.h>

#include "../../base/context.h"
#include "../../config/config.h"
#include "evaluate.h"

typedef struct ds_eval_summary {
    bool has_dev, has_test;
    ds_eval_result dev, test;  // values named "eval_*" and "test_*", as the trainer names them
    ds_label_map labels;       // the model's classes in id order (empty for regression)
    bool split_from_train;     // dev/test are parts of data.train
} ds_eval_summary;

// Runs the evaluation the config describes (batches of train.batch_size, model.max_length tokens).
ds_status ds_eval_model(ds_context *ctx, const ds_config *cfg, ds_eval_summary *out);
void ds_eval_summary_free(ds_eval_summary *s);

#endif
