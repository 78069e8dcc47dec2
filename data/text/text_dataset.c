#include "text_dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/file_read.h"
#include "text_dataset_build.h"

static ds_status check_options(const ds_text_dataset_options *o, const char *name, ds_err *err) {
    DS_REQUIRE(err, o->text_field && o->text_field[0], DS_ERR_INVALID_ARG, "%s: no text field given", name);
    DS_REQUIRE(err, o->unlabeled || (o->label_field && o->label_field[0]), DS_ERR_INVALID_ARG,
               "%s: no label field given", name);
    DS_REQUIRE(err, o->format != DS_TEXT_FORMAT_LINES || o->unlabeled, DS_ERR_INVALID_ARG,
               "%s: plain-text lines carry no labels: the lines format reads unlabelled data (prediction) only", name);
    DS_REQUIRE(err, (int)o->problem_type >= 0 && o->problem_type < DS_PROBLEM_COUNT, DS_ERR_INVALID_ARG,
               "%s: unknown problem type %d", name, (int)o->problem_type);
    DS_REQUIRE(err, o->problem_type != DS_PROBLEM_MULTI_LABEL || (o->label_separator && o->label_separator[0]),
               DS_ERR_INVALID_ARG, "%s: multi-label data needs a non-empty label separator", name);
    DS_REQUIRE(err, o->num_label_names == 0 || o->problem_type != DS_PROBLEM_REGRESSION, DS_ERR_INVALID_ARG,
               "%s: a label list was given for regression, which has no classes", name);
    DS_REQUIRE(err, o->num_label_names >= 0 && (o->num_label_names == 0 || o->label_names != NULL),
               DS_ERR_INVALID_ARG, "%s: the label list has %d names but no array", name, (int)o->num_label_names);
    return DS_OK;
}

void ds_text_dataset_free(ds_text_dataset *d) {
    free(d->source);
    free(d->examples);
    free(d->pool);
    free(d->label_ids);
    ds_label_map_free(&d->labels);
    memset(d, 0, sizeof *d);
}

static ds_status load(ds_text_builder *b, const char *data, size_t size, ds_err *err) {
    ds_text_dataset *d = b->d;
    if (b->labels_fixed)
        {
        char what[600];
        snprintf(what, sizeof what, "%s: the label list", d->source);
        DS_TRY(ds_label_map_from_names(&d->labels, b->opt->label_names, b->opt->num_label_names, what, err));
    }
    if (b->opt->format == DS_TEXT_FORMAT_JSONL)
        DS_TRY(ds_text_read_jsonl(b, data, size, err));
    else if (b->opt->format == DS_TEXT_FORMAT_LINES)
        DS_TRY(ds_text_read_lines(b, data, size, err));
    else
        DS_TRY(ds_text_read_csv(b, data, size, err));
    return ds_text_labels_finish(b, err);
}

ds_status ds_text_dataset_load_memory(const char *data, size_t size, const char *name,
                                      const ds_text_dataset_options *opt, ds_text_dataset *out, ds_err *err) {
    memset(out, 0, sizeof *out);
    if (name == NULL) name = "<memory>";
    ds_text_dataset_options o = opt ? *opt : ds_text_dataset_default_options();
    DS_TRY(check_options(&o, name, err));
    if (o.format == DS_TEXT_FORMAT_AUTO) DS_TRY(ds_text_format_infer(name, &o.format, err));
    out->source = strdup(name);
    if (out->source == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", name);
    out->problem_type = o.problem_type;
    out->has_labels = !o.unlabeled;
    ds_text_builder b = {.d = out, .opt = &o, .labels_fixed = o.num_label_names > 0};
    const ds_status s = load(&b, data, size, err);
    free(b.tokens);
    free(b.token_lens);
    free(b.numbers);
    if (s != DS_OK) ds_text_dataset_free(out);
    return s;
}

ds_status ds_text_dataset_load(const char *path, const ds_text_dataset_options *opt, ds_text_dataset *out,
                               ds_err *err) {
    memset(out, 0, sizeof *out);
    char *data = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &data, &size, err));
    const ds_status s = ds_text_dataset_load_memory(data, size, path, opt, out, err);
    free(data);  // every string was copied into the dataset's pool
    return s;
}

const char *ds_text_dataset_text(const ds_text_dataset *d, size_t i) { return d->pool + d->examples[i].text; }

const char *ds_text_dataset_text_pair(const ds_text_dataset *d, size_t i) {
    const size_t off = d->examples[i].text_pair;
    return off == DS_TEXT_NO_PAIR ? NULL : d->pool + off;
}

int32_t ds_text_dataset_label(const ds_text_dataset *d, size_t i) {
    if (d->problem_type != DS_PROBLEM_SINGLE_LABEL || !d->has_labels) return -1;
    return d->label_ids[d->examples[i].labels];
}

size_t ds_text_dataset_label_ids(const ds_text_dataset *d, size_t i, const int32_t **ids) {
    *ids = d->label_ids ? d->label_ids + d->examples[i].labels : NULL;
    return d->examples[i].label_count;
}

float ds_text_dataset_value(const ds_text_dataset *d, size_t i) { return d->examples[i].value; }

long ds_text_dataset_line(const ds_text_dataset *d, size_t i) { return d->examples[i].line; }

const char *ds_text_dataset_skip_summary(const ds_text_dataset *d, char *buf, size_t cap) {
    if (cap == 0) return buf;
    buf[0] = '\0';
    if (d->skipped == 0) return buf;
    size_t used = 0;
    int n = snprintf(buf, cap, "%s: skipped %zu bad row%s (line%s ", d->source, d->skipped, d->skipped == 1 ? "" : "s",
                     d->skipped == 1 ? "" : "s");
    const size_t kept = d->skipped < DS_TEXT_SKIPPED_LINES_KEPT ? d->skipped : DS_TEXT_SKIPPED_LINES_KEPT;
    for (size_t i = 0; n >= 0 && i < kept; i++) {
        used += (size_t)n;
        if (used >= cap) return buf;
        n = snprintf(buf + used, cap - used, "%s%ld", i ? ", " : "", d->skipped_lines[i]);
    }
    if (n >= 0 && (used += (size_t)n) < cap)
        snprintf(buf + used, cap - used, "%s); the first: %s", d->skipped > kept ? ", ..." : "", d->first_skip_reason);
    return buf;
}
