// `downstream eval`, for every model family: a fine-tuned model (model.path) evaluated on the
// family's dev and test sets (data.dev / data.test, or the dev and test parts of data.train split
// exactly as training split it), in batches of train.batch_size, on the run's device.
#ifndef DS_EVAL_COMMAND_H
#define DS_EVAL_COMMAND_H

#include <stdbool.h>

#include "../base/context.h"
#include "../config/config.h"
#include "../metrics/eval_result.h"

typedef struct ds_eval_summary {
    bool has_dev, has_test;
    ds_eval_result dev, test;  // values named "eval_*" and "test_*", as the trainer names them
} ds_eval_summary;

ds_status ds_eval_model(ds_context *ctx, const ds_config *cfg, ds_eval_summary *out);
void ds_eval_summary_free(ds_eval_summary *s);

#endif
