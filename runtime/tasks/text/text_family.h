// Text classification with BERT (Hugging Face BertForSequenceClassification semantics) behind the
// task table (runtime/tasks/task.h): task.type "text_classification", the default.
#ifndef DS_TEXT_FAMILY_H
#define DS_TEXT_FAMILY_H

#include "../task.h"
#include "text_examples.h"

extern const ds_task_family ds_text_task_family;

// A text task around ready tokenized examples as its training split, with no model (what the
// train-loader tests pack from). `train` must outlive the task; close it with t->family->close.
ds_status ds_text_task_of_examples(const ds_text_examples *train, ds_task **out, ds_err *err);

// The ds_bert_batch a packed text batch (a loader slot's payload) holds: views into it.
void ds_text_batch_of_packed(const void *packed, ds_bert_batch *out);

#endif
