#include "text_examples.h"

#include <stdlib.h>
#include <string.h>

ds_status ds_text_examples_build(const ds_text_dataset *d, const size_t *idx, size_t count,
                                 const ds_wp_tokenizer *tok, int64_t max_length, int64_t num_labels,
                                 ds_text_examples *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    const size_t n = idx ? count : d->count;
    out->n = n;
    out->max_length = max_length;
    out->num_labels = num_labels;
    out->problem_type = d->problem_type;
    const size_t cells = (n ? n : 1) * (size_t)max_length;
    out->ids = malloc(cells * sizeof(int32_t));
    out->types = malloc(cells * sizeof(int32_t));
    out->lengths = malloc((n ? n : 1) * sizeof(int32_t));
    out->source_index = malloc((n ? n : 1) * sizeof(size_t));
    if (d->problem_type == DS_PROBLEM_SINGLE_LABEL)
        out->labels = malloc((n ? n : 1) * sizeof(int32_t));
    else
        out->label_values = calloc((n ? n : 1) * (size_t)num_labels, sizeof(float));
    if (!out->ids || !out->types || !out->lengths || !out->source_index || (!out->labels && !out->label_values)) {
        ds_text_examples_free(out);
        return ds_err_set(err, DS_ERR_OOM, "%s: out of memory encoding %zu examples", d->source, n);
    }
    ds_wp_scratch scratch;
    memset(&scratch, 0, sizeof scratch);
    ds_wp_encoding enc;
    memset(&enc, 0, sizeof enc);
    const ds_wp_encode_opts opts = {.max_length = (size_t)max_length, .truncate = true, .pad = false};
    ds_status st = DS_OK;
    for (size_t i = 0; i < n && st == DS_OK; i++) {
        const size_t k = idx ? idx[i] : i;
        const char *text = ds_text_dataset_text(d, k), *pair = ds_text_dataset_text_pair(d, k);
        st = ds_wp_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0, &opts, &scratch, &enc, err);
        if (st != DS_OK) {
            ds_err_set(err, st, "%s:%ld: cannot tokenize the example", d->source, ds_text_dataset_line(d, k));
            break;
        }
        int32_t *ids = out->ids + i * (size_t)max_length, *types = out->types + i * (size_t)max_length;
        memcpy(ids, enc.input_ids, enc.len * sizeof(int32_t));
        memcpy(types, enc.token_type_ids, enc.len * sizeof(int32_t));
        for (size_t j = enc.len; j < (size_t)max_length; j++) ids[j] = tok->pad_id, types[j] = 0;
        out->lengths[i] = (int32_t)enc.len;
        out->source_index[i] = k;
        if (enc.len == (size_t)max_length) {
            // Count examples that were really cut: re-encode without a limit only when full.
            ds_wp_encode_opts full = {.max_length = 0};
            ds_wp_encoding e2;
            memset(&e2, 0, sizeof e2);
            if (ds_wp_encode(tok, text, strlen(text), pair, pair ? strlen(pair) : 0, &full, &scratch, &e2, err) ==
                    DS_OK &&
                e2.len > (size_t)max_length)
                out->truncated++;
            ds_wp_encoding_free(&e2);
        }
        if (out->labels) {
            out->labels[i] = ds_text_dataset_label(d, k);
        } else if (d->problem_type == DS_PROBLEM_REGRESSION) {
            out->label_values[i * (size_t)num_labels] = ds_text_dataset_value(d, k);
        } else {
            const int32_t *ids_k = NULL;
            const size_t m = ds_text_dataset_label_ids(d, k, &ids_k);
            for (size_t j = 0; j < m; j++)
                if (ids_k[j] < num_labels) out->label_values[i * (size_t)num_labels + (size_t)ids_k[j]] = 1.0f;
        }
    }
    ds_wp_encoding_free(&enc);
    ds_wp_scratch_free(&scratch);
    if (st != DS_OK) ds_text_examples_free(out);
    return st;
}

void ds_text_examples_free(ds_text_examples *e) {
    free(e->ids), free(e->types), free(e->lengths), free(e->labels), free(e->label_values), free(e->source_index);
    memset(e, 0, sizeof *e);
}

ds_status ds_text_batch_buf_init(ds_text_batch_buf *buf, size_t batch_size, int64_t max_length, int64_t num_labels,
                                 ds_err *err) {
    memset(buf, 0, sizeof *buf);
    const size_t cells = batch_size * (size_t)max_length;
    buf->ids = malloc(cells * sizeof(int32_t));
    buf->types = malloc(cells * sizeof(int32_t));
    buf->mask = malloc(cells * sizeof(int32_t));
    buf->labels = malloc(batch_size * sizeof(int32_t));
    buf->label_values = malloc(batch_size * (size_t)num_labels * sizeof(float));
    buf->cap_b = batch_size;
    buf->cap_t = max_length;
    buf->num_labels = num_labels;
    if (!buf->ids || !buf->types || !buf->mask || !buf->labels || !buf->label_values) {
        ds_text_batch_buf_free(buf);
        return ds_err_set(err, DS_ERR_OOM, "batch buffers: out of memory for %zu x %lld", batch_size,
                          (long long)max_length);
    }
    return DS_OK;
}

void ds_text_batch_buf_free(ds_text_batch_buf *buf) {
    free(buf->ids), free(buf->types), free(buf->mask), free(buf->labels), free(buf->label_values);
    memset(buf, 0, sizeof *buf);
}

void ds_text_batch_make(const ds_text_examples *e, const size_t *order, size_t count, ds_text_batch_buf *buf,
                        ds_bert_batch *batch) {
    int64_t T = 1;
    for (size_t i = 0; i < count; i++)
        if (e->lengths[order[i]] > T) T = e->lengths[order[i]];
    const size_t K = (size_t)e->num_labels;
    for (size_t i = 0; i < count; i++) {
        const size_t k = order[i];
        const int32_t *src_ids = e->ids + k * (size_t)e->max_length, *src_types = e->types + k * (size_t)e->max_length;
        memcpy(buf->ids + i * (size_t)T, src_ids, (size_t)T * sizeof(int32_t));
        memcpy(buf->types + i * (size_t)T, src_types, (size_t)T * sizeof(int32_t));
        for (int64_t t = 0; t < T; t++) buf->mask[i * (size_t)T + (size_t)t] = t < e->lengths[k];
        if (e->labels)
            buf->labels[i] = e->labels[k];
        else
            memcpy(buf->label_values + i * K, e->label_values + k * K, K * sizeof(float));
    }
    memset(batch, 0, sizeof *batch);
    batch->B = (int64_t)count;
    batch->T = T;
    batch->input_ids = buf->ids;
    batch->token_type_ids = buf->types;
    batch->attention_mask = buf->mask;
    batch->labels = e->labels ? buf->labels : NULL;
    batch->label_values = e->labels ? NULL : buf->label_values;
}
