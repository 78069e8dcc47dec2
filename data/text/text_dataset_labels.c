// A row's label as the problem type reads it: one class name, a set of class names, or a float;
// and the class ids of discovered labels put in their final order once every row is in.
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/jsonl.h"
#include "text_dataset_build.h"

// ---- label text -----------------------------------------------------------------------------

static ds_status reserve_tokens(ds_text_builder *b, size_t n, ds_err *err) {
    if (n <= b->token_cap) return DS_OK;
    size_t cap = b->token_cap ? b->token_cap : 8;
    while (cap < n) cap *= 2;
    const char **tokens = realloc(b->tokens, cap * sizeof *tokens);
    if (tokens) b->tokens = tokens;
    size_t *lens = realloc(b->token_lens, cap * sizeof *lens);
    if (lens) b->token_lens = lens;
    if (!tokens || !lens) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu labels", b->d->source, cap);
    b->token_cap = cap;
    return DS_OK;
}

// Room to print n integers into b->numbers (done before any token points into it).
#define INT_TEXT_MAX 24  // "-9007199254740992" and a NUL, rounded up
static ds_status reserve_numbers(ds_text_builder *b, size_t n, ds_err *err) {
    const size_t need = n * INT_TEXT_MAX;
    if (need <= b->numbers_cap) return DS_OK;
    char *numbers = realloc(b->numbers, need);
    if (numbers == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", b->d->source);
    b->numbers = numbers;
    b->numbers_cap = need;
    return DS_OK;
}

// Splits text[0, len) at the separator into tokens from index *n on. An empty piece is a bad row.
static ds_status split_labels(ds_text_builder *b, long line, const char *text, size_t len, size_t *n, int *bad,
                              ds_err *err) {
    const char *sep = b->opt->label_separator;
    const size_t sep_len = sep ? strlen(sep) : 0;
    size_t start = 0;
    for (;;) {
        size_t end = start;
        while (end < len && !(sep_len && end + sep_len <= len && memcmp(text + end, sep, sep_len) == 0)) end++;
        if (end == start) {
            *bad = 1;
            return ds_text_bad_row(b, line, err, "empty label in '%.*s' (labels separated by '%s')", (int)len, text,
                                   sep ? sep : "");
        }
        DS_TRY(reserve_tokens(b, *n + 1, err));
        b->tokens[*n] = text + start;
        b->token_lens[(*n)++] = end - start;
        if (end == len) return DS_OK;
        start = end + sep_len;
    }
}

// Whole JSON numbers are labels spelled in decimal ("3"); 2^53 bounds the doubles that are exact.
static int json_integer(const cJSON *v, long long *out) {
    if (!cJSON_IsNumber(v)) return 0;
    const double x = v->valuedouble;
    if (!(fabs(x) <= 9007199254740992.0) || floor(x) != x) return 0;
    *out = (long long)x;
    return 1;
}

// One JSON label (string or whole number) as token *n. Anything else is a bad row.
static ds_status json_token(ds_text_builder *b, long line, const cJSON *v, size_t *n, int *bad, ds_err *err) {
    long long k;
    DS_TRY(reserve_tokens(b, *n + 1, err));
    if (cJSON_IsString(v) && v->valuestring && v->valuestring[0]) {
        b->tokens[*n] = v->valuestring;
        b->token_lens[(*n)++] = strlen(v->valuestring);
        return DS_OK;
    }
    if (json_integer(v, &k)) {
        char *text = b->numbers + *n * INT_TEXT_MAX;  // room reserved by the caller
        b->token_lens[*n] = (size_t)snprintf(text, INT_TEXT_MAX, "%lld", k);
        b->tokens[(*n)++] = text;
        return DS_OK;
    }
    *bad = 1;
    if (cJSON_IsString(v)) return ds_text_bad_row(b, line, err, "empty label in field '%s'", b->opt->label_field);
    return ds_text_bad_row(b, line, err, "the label field '%s' is %s%s, expected a string or a whole number%s",
                           b->opt->label_field, ds_json_type_name(v), cJSON_IsNumber(v) ? " with a fraction" : "",
                           b->opt->problem_type == DS_PROBLEM_MULTI_LABEL ? " (or an array of them)" : "");
}

static ds_status class_tokens(ds_text_builder *b, const ds_text_raw_row *row, size_t *n, int *bad, ds_err *err) {
    const bool multi = b->opt->problem_type == DS_PROBLEM_MULTI_LABEL;
    *n = 0;
    if (row->label_text != NULL) {
        if (row->label_len == 0) {
            *bad = 1;
            return ds_text_bad_row(b, row->line, err, "empty label");
        }
        if (multi) return split_labels(b, row->line, row->label_text, row->label_len, n, bad, err);
        DS_TRY(reserve_tokens(b, 1, err));
        b->tokens[0] = row->label_text;
        b->token_lens[0] = row->label_len;
        *n = 1;
        return DS_OK;
    }
    const cJSON *v = row->label_json;
    if (multi && cJSON_IsString(v) && v->valuestring && v->valuestring[0])
        return split_labels(b, row->line, v->valuestring, strlen(v->valuestring), n, bad, err);
    if (multi && cJSON_IsArray(v)) {  // [] is an example with no label: all classes negative
        const size_t count = (size_t)cJSON_GetArraySize(v);
        DS_TRY(reserve_numbers(b, count, err));
        for (const cJSON *item = v->child; item != NULL && !*bad; item = item->next)
            DS_TRY(json_token(b, row->line, item, n, bad, err));
        return DS_OK;
    }
    DS_TRY(reserve_numbers(b, 1, err));
    return json_token(b, row->line, v, n, bad, err);
}

// ---- regression ---------------------------------------------------------------------------

// A float target from text ("4.5", " 2 ", "-1e-3"): all of it a number, finite, within float32.
static ds_status parse_value(ds_text_builder *b, long line, const char *text, float *value, int *bad, ds_err *err) {
    char *end = NULL;
    errno = 0;
    const double x = strtod(text, &end);
    while (end && (*end == ' ' || *end == '\t')) end++;
    const int numeric = end != text && end != NULL && *end == '\0';
    if (numeric && isfinite(x) && fabs(x) <= FLT_MAX) {
        *value = (float)x;
        return DS_OK;
    }
    *bad = 1;
    if (!numeric) return ds_text_bad_row(b, line, err, "the regression label '%s' is not a number", text);
    return ds_text_bad_row(b, line, err, "the regression label '%s' is not a finite float32", text);
}

static ds_status float_label(ds_text_builder *b, const ds_text_raw_row *row, float *value, int *bad, ds_err *err) {
    const cJSON *v = row->label_json;
    if (row->label_text != NULL && row->label_len == 0) {
        *bad = 1;
        return ds_text_bad_row(b, row->line, err, "empty label");
    }
    if (row->label_text != NULL) return parse_value(b, row->line, row->label_text, value, bad, err);
    if (cJSON_IsString(v) && v->valuestring) return parse_value(b, row->line, v->valuestring, value, bad, err);
    if (cJSON_IsNumber(v) && fabs(v->valuedouble) <= FLT_MAX) {
        *value = (float)v->valuedouble;
        return DS_OK;
    }
    *bad = 1;
    if (cJSON_IsNumber(v))
        return ds_text_bad_row(b, row->line, err, "the regression label %g is outside float32's range", v->valuedouble);
    return ds_text_bad_row(b, row->line, err, "the label field '%s' is %s, expected a number", b->opt->label_field,
                           ds_json_type_name(v));
}

ds_status ds_text_row_label(ds_text_builder *b, const ds_text_raw_row *row, size_t *n_tokens, float *value, int *bad,
                            ds_err *err) {
    *bad = 0;
    *n_tokens = 0;
    *value = 0.0f;
    if (b->opt->problem_type == DS_PROBLEM_REGRESSION) return float_label(b, row, value, bad, err);
    return class_tokens(b, row, n_tokens, bad, err);
}

// ---- final class order ----------------------------------------------------------------------

// A label that is a decimal integer: optional '-', 1 to 18 digits (fits a long long).
static int integer_label(const char *s, long long *v) {
    const char *p = s + (s[0] == '-');
    const size_t digits = strspn(p, "0123456789");
    if (digits == 0 || digits > 18 || p[digits] != '\0') return 0;
    *v = strtoll(s, NULL, 10);
    return 1;
}

typedef struct sort_key {
    long long number;  // when every label is an integer
    const char *name;
    int32_t old_id;
} sort_key;

static int by_number_then_name(const void *pa, const void *pb) {
    const sort_key *a = pa, *b = pb;
    if (a->number != b->number) return a->number < b->number ? -1 : 1;
    return strcmp(a->name, b->name);  // "01" and "1": both 1, still distinct labels
}

ds_status ds_text_labels_finish(ds_text_builder *b, ds_err *err) {
    ds_text_dataset *d = b->d;
    const ds_label_order order = b->opt->label_order;
    if (b->labels_fixed || d->problem_type == DS_PROBLEM_REGRESSION || order == DS_LABEL_ORDER_FIRST_SEEN ||
        d->labels.count < 2)
        return DS_OK;
    const int32_t k = d->labels.count;
    sort_key *keys = malloc((size_t)k * sizeof *keys);
    int32_t *new_id = malloc((size_t)k * sizeof *new_id);
    const char **names = malloc((size_t)k * sizeof *names);
    ds_status s = keys && new_id && names ? DS_OK : ds_err_set(err, DS_ERR_OOM, "%s: out of memory", d->source);
    int all_integers = 1;
    for (int32_t i = 0; s == DS_OK && i < k; i++) {
        keys[i] = (sort_key){.number = 0, .name = d->labels.names[i], .old_id = i};
        all_integers &= integer_label(keys[i].name, &keys[i].number);
    }
    if (s == DS_OK && (all_integers || order == DS_LABEL_ORDER_SORTED)) {
        if (!all_integers)
            for (int32_t i = 0; i < k; i++) keys[i].number = 0;  // byte order of the names alone
        qsort(keys, (size_t)k, sizeof *keys, by_number_then_name);
        for (int32_t i = 0; i < k; i++) {
            new_id[keys[i].old_id] = i;
            names[i] = keys[i].name;
        }
        ds_label_map sorted;
        s = ds_label_map_from_names(&sorted, names, k, d->source, err);
        if (s == DS_OK) {
            for (size_t j = 0; j < d->label_ids_len; j++) d->label_ids[j] = new_id[d->label_ids[j]];
            ds_label_map_free(&d->labels);
            d->labels = sorted;
        }
    }
    free(keys);
    free(new_id);
    free(names);
    return s;
}
