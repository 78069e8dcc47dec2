// Tokenized examples of a text-classification dataset, ready for batching: every example encoded
// once ([CLS] A [SEP] (B [SEP]), longest-first truncation to max_length) into one (n, max_length)
// id store, and batches assembled from it with dynamic padding (to the longest example of the
// batch, as HF's DataCollatorWithPadding does), so short sentences do not pay for max_length.
#ifndef DS_TEXT_EXAMPLES_H
#define DS_TEXT_EXAMPLES_H

#include <stddef.h>
#include <stdint.h>

#include "../../../data/text/text_dataset.h"
#include "../../../data/text/wordpiece.h"
#include "../../../models/bert/bert.h"

typedef struct ds_text_examples {
    size_t n;
    int64_t max_length;     // T of the store
    int64_t num_labels;     // K (outputs of the head)
    ds_problem_type problem_type;
    int32_t *ids;           // (n, max_length) host, [PAD] after each example's length
    int32_t *types;         // (n, max_length) host, token type ids
    int32_t *lengths;       // (n) host, tokens of each example, specials included
    int32_t *labels;        // (n) host, single-label class ids; NULL otherwise
    float *label_values;    // (n, num_labels) host, multi-hot or regression targets; NULL for single-label
    size_t *source_index;   // (n) host, the example's index in the dataset
    int64_t truncated;      // examples cut to max_length
} ds_text_examples;

// Encodes examples idx[0..count) (NULL: all) of `d`. num_labels: the head's output count (the
// training set's class count; 1 for regression).
ds_status ds_text_examples_build(const ds_text_dataset *d, const size_t *idx, size_t count,
                                 const ds_wp_tokenizer *tok, int64_t max_length, int64_t num_labels,
                                 ds_text_examples *out, ds_err *err);
void ds_text_examples_free(ds_text_examples *e);

// Host buffers of one batch, sized for batch_size x max_length.
typedef struct ds_text_batch_buf {
    int32_t *ids, *types, *mask;  // (B, T) host, T = the longest example of the batch
    int32_t *labels;              // (B) host
    float *label_values;          // (B, num_labels) host
    size_t cap_b;
    int64_t cap_t, num_labels;
} ds_text_batch_buf;

ds_status ds_text_batch_buf_init(ds_text_batch_buf *buf, size_t batch_size, int64_t max_length, int64_t num_labels,
                                 ds_err *err);
void ds_text_batch_buf_free(ds_text_batch_buf *buf);

// Assembles the examples order[0..count) into *batch (views of buf), padded to the longest.
void ds_text_batch_make(const ds_text_examples *e, const size_t *order, size_t count, ds_text_batch_buf *buf,
                        ds_bert_batch *batch);

#endif
