// The speech dataset: manifest rows -> utterances with their audio headers read, the duration
// filter, and the accessors (see speech_dataset.h). The row readers are in speech_manifest.c.
#include "speech_dataset.h"

#include <libgen.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../runtime/base/check.h"
#include "audio_read.h"
#include "speech_dataset_internal.h"

ds_speech_dataset_options ds_speech_dataset_default_options(void) {
    return (ds_speech_dataset_options){
        .format = DS_SPEECH_FORMAT_AUTO, .audio_column = "audio", .text_column = "text",
        .target_rate = DS_AUDIO_DEFAULT_RATE, .max_seconds = 20.0, .min_seconds = 0.0,
        .cap_seconds = DS_AUDIO_DEFAULT_MAX_SECONDS, .quality = DS_RESAMPLE_HQ};
}

void ds_speech_dataset_free(ds_speech_dataset *d) {
    free(d->source);
    free(d->utts);
    free(d->pool);
    free(d->labels);
    free(d->skipped_texts);
    memset(d, 0, sizeof *d);
}

const char *ds_speech_dataset_path(const ds_speech_dataset *d, size_t i) { return d->pool + d->utts[i].path; }

const char *ds_speech_dataset_text(const ds_speech_dataset *d, size_t i) {
    return d->utts[i].text == DS_SPEECH_NO_TEXT ? NULL : d->pool + d->utts[i].text;
}

int32_t ds_speech_dataset_labels(const ds_speech_dataset *d, size_t i, const int32_t **ids) {
    *ids = d->labels ? d->labels + d->utts[i].label_offset : NULL;
    return d->labels ? d->utts[i].label_length : 0;
}

static ds_status pool_add(ds_speech_dataset *d, const char *s, size_t len, size_t *offset, ds_err *err) {
    if (d->pool_len + len + 1 > d->pool_cap) {
        size_t cap = d->pool_cap ? d->pool_cap : 4096;
        while (cap < d->pool_len + len + 1) cap *= 2;
        char *p = realloc(d->pool, cap);
        if (p == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for the manifest's text", d->source);
        d->pool = p;
        d->pool_cap = cap;
    }
    memcpy(d->pool + d->pool_len, s, len);
    d->pool[d->pool_len + len] = '\0';
    *offset = d->pool_len;
    d->pool_len += len + 1;
    return DS_OK;
}

static ds_status keep_skipped_text(ds_speech_dataset *d, const char *text, size_t len, ds_err *err) {
    const size_t n = d->skipped_long + d->skipped_short;
    if (n == d->skipped_texts_cap) {
        const size_t cap = n ? 2 * n : 64;
        size_t *v = realloc(d->skipped_texts, cap * sizeof *v);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", d->source);
        d->skipped_texts = v;
        d->skipped_texts_cap = cap;
    }
    return pool_add(d, text, len, &d->skipped_texts[n], err);
}

// The audio path as the manifest gives it, resolved against the manifest's folder when relative.
static ds_status resolve_path(const ds_speech_dataset *d, const char *path, char *out, size_t cap, ds_err *err) {
    if (path[0] == '/') {
        DS_REQUIRE(err, strlen(path) < cap, DS_ERR_INVALID_ARG, "%s: audio path too long", d->source);
        snprintf(out, cap, "%s", path);
        return DS_OK;
    }
    char *copy = strdup(d->source);
    if (copy == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", d->source);
    const int n = snprintf(out, cap, "%s/%s", dirname(copy), path);
    free(copy);
    DS_REQUIRE(err, n > 0 && (size_t)n < cap, DS_ERR_INVALID_ARG, "%s: audio path too long", d->source);
    return DS_OK;
}

ds_status ds_speech_dataset_add_row(ds_speech_dataset *d, long line, const char *path, const char *text,
                                    size_t text_len, ds_err *err) {
    DS_REQUIRE(err, path[0] != '\0', DS_ERR_FORMAT, "%s:%ld: empty audio path", d->source, line);
    char resolved[4096];
    DS_TRY(resolve_path(d, path, resolved, sizeof resolved, err));
    ds_audio_info info;
    ds_err inner;
    ds_err_clear(&inner);
    const ds_status s = ds_audio_probe(resolved, &info, &inner);
    if (s != DS_OK) return ds_err_set(err, s, "%s:%ld: %s", d->source, line, inner.msg);
    const int rate = d->opt.target_rate > 0 ? d->opt.target_rate : info.sample_rate;
    const int64_t length = ds_resampled_length(info.frames, info.sample_rate, rate);
    // HF: min_input_length < length < max_input_length, both bounds as floats (seconds * rate).
    const bool too_long = d->opt.max_seconds > 0 && !((double)length < d->opt.max_seconds * rate);
    const bool too_short = !((double)length > d->opt.min_seconds * rate);
    if (too_long || too_short) {
        if (text) DS_TRY(keep_skipped_text(d, text, text_len, err));
        d->skipped_long += too_long;
        d->skipped_short += too_short && !too_long;
        return DS_OK;
    }
    DS_REQUIRE(err, d->opt.cap_seconds <= 0 || info.seconds <= d->opt.cap_seconds, DS_ERR_INVALID_ARG,
               "%s:%ld: audio %s: %.1f s long, over the cap of %.0f s (set a max_seconds filter, or raise the cap)",
               d->source, line, resolved, info.seconds, d->opt.cap_seconds);
    if (d->count == d->utts_cap) {
        const size_t cap = d->utts_cap ? d->utts_cap * 2 : 256;
        ds_speech_utterance *u = realloc(d->utts, cap * sizeof *u);
        if (u == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu utterances", d->source, cap);
        d->utts = u;
        d->utts_cap = cap;
    }
    ds_speech_utterance u = {.line = line, .frames = info.frames, .source_rate = info.sample_rate,
                             .channels = info.channels, .length = length, .text = DS_SPEECH_NO_TEXT};
    DS_TRY(pool_add(d, resolved, strlen(resolved), &u.path, err));
    if (text) DS_TRY(pool_add(d, text, text_len, &u.text, err));
    d->utts[d->count++] = u;
    d->total_seconds += (double)length / rate;
    if (length > d->max_length) d->max_length = length;
    return DS_OK;
}

static ds_status pick_format(const char *path, ds_speech_format f, ds_speech_format *out, ds_err *err) {
    if (f != DS_SPEECH_FORMAT_AUTO) {
        *out = f;
        return DS_OK;
    }
    const char *dot = strrchr(path, '.');
    const char *ext = dot ? dot + 1 : "";
    if (strcasecmp(ext, "csv") == 0) *out = DS_SPEECH_FORMAT_CSV;
    else if (strcasecmp(ext, "tsv") == 0) *out = DS_SPEECH_FORMAT_TSV;
    else if (strcasecmp(ext, "jsonl") == 0 || strcasecmp(ext, "json") == 0) *out = DS_SPEECH_FORMAT_JSONL;
    else
        return ds_err_set(err, DS_ERR_INVALID_ARG,
                          "%s: cannot tell the manifest format from the extension '%s' (use .csv, .tsv or .jsonl, or set "
                          "the format)", path, ext);
    return DS_OK;
}

ds_status ds_speech_dataset_load(const char *manifest, const ds_speech_dataset_options *opt, ds_speech_dataset *out,
                                 ds_err *err) {
    memset(out, 0, sizeof *out);
    DS_REQUIRE(err, opt->audio_column && opt->audio_column[0], DS_ERR_INVALID_ARG, "%s: no audio column name",
               manifest);
    DS_REQUIRE(err, opt->target_rate > 0 && isfinite(opt->max_seconds) && opt->max_seconds >= 0 &&
                        isfinite(opt->min_seconds) && opt->min_seconds >= 0,
               DS_ERR_INVALID_ARG, "%s: bad dataset options (rate %d, max_seconds %g, min_seconds %g)", manifest,
               opt->target_rate, opt->max_seconds, opt->min_seconds);
    out->source = strdup(manifest);
    if (out->source == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", manifest);
    out->opt = *opt;
    out->opt.audio_column = out->opt.text_column = NULL;
    out->has_labels = opt->text_column != NULL;
    ds_speech_format f = DS_SPEECH_FORMAT_AUTO;
    ds_status s = pick_format(manifest, opt->format, &f, err);
    if (s == DS_OK) s = f == DS_SPEECH_FORMAT_JSONL ? ds_speech_manifest_read_jsonl(out, opt, err)
                                                     : ds_speech_manifest_read_csv(out, opt, f == DS_SPEECH_FORMAT_TSV,
                                                                                   err);
    if (s == DS_OK && out->count == 0)
        s = ds_err_set(err, DS_ERR_FORMAT, "%s: no utterances (%zu skipped by the duration filter)", manifest,
                       out->skipped_long + out->skipped_short);
    if (s != DS_OK) ds_speech_dataset_free(out);
    return s;
}

const char *ds_speech_dataset_summary(const ds_speech_dataset *d, char *buf, size_t cap) {
    const int rate = d->opt.target_rate;
    snprintf(buf, cap, "%s: %zu utterances, %.2f h, longest %.1f s; skipped %zu longer than %g s, %zu not longer than %g s",
             d->source, d->count, d->total_seconds / 3600.0, rate > 0 ? (double)d->max_length / rate : 0.0,
             d->skipped_long, d->opt.max_seconds, d->skipped_short, d->opt.min_seconds);
    return buf;
}

typedef struct by_length {
    int64_t length;
    size_t position, index;
} by_length;

static int longest_first(const void *a, const void *b) {
    const by_length *x = a, *y = b;
    if (x->length != y->length) return x->length > y->length ? -1 : 1;
    return (x->position > y->position) - (x->position < y->position);
}

ds_status ds_speech_group_by_length(const ds_speech_dataset *d, size_t *order, size_t n, size_t global_batch,
                                    int64_t group_batches, ds_err *err) {
    DS_REQUIRE(err, global_batch >= 1 && group_batches >= 1, DS_ERR_INVALID_ARG,
               "group_by_length: batch %zu and group of %lld batches", global_batch, (long long)group_batches);
    for (size_t i = 0; i < n; i++)
        DS_REQUIRE(err, order[i] < d->count, DS_ERR_INVALID_ARG, "group_by_length: index %zu of %zu utterances",
                   order[i], d->count);
    const size_t mega = global_batch * (size_t)group_batches;
    by_length *tmp = malloc((mega < n ? mega : n ? n : 1) * sizeof *tmp);
    if (tmp == NULL) return ds_err_set(err, DS_ERR_OOM, "group_by_length: out of memory for %zu utterances", mega);
    for (size_t at = 0; at < n; at += mega) {
        const size_t m = n - at < mega ? n - at : mega;
        for (size_t i = 0; i < m; i++) tmp[i] = (by_length){d->utts[order[at + i]].length, i, order[at + i]};
        qsort(tmp, m, sizeof *tmp, longest_first);  // a total order (positions differ): deterministic
        for (size_t i = 0; i < m; i++) order[at + i] = tmp[i].index;
    }
    free(tmp);
    return DS_OK;
}
