#include "csv.h"

#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "file_read.h"
#include "utf8_check.h"

ds_csv_options ds_csv_options_csv(void) { return (ds_csv_options){.delimiter = ',', .quote = '"'}; }

ds_csv_options ds_csv_options_tsv(void) { return (ds_csv_options){.delimiter = '\t', .quote = '"'}; }

static ds_status check_options(const ds_csv_options *opt, const char *name, ds_err *err) {
    const char d = opt->delimiter;
    DS_REQUIRE(err, d != '\0' && d != '\n' && d != '\r' && d != opt->quote, DS_ERR_INVALID_ARG,
               "%s: the CSV delimiter (byte 0x%02X) must not be NUL, CR, LF or the quote character", name,
               (unsigned)(unsigned char)d);
    DS_REQUIRE(err, opt->quote != '\n' && opt->quote != '\r', DS_ERR_INVALID_ARG,
               "%s: the CSV quote character must not be CR or LF", name);
    return DS_OK;
}

ds_status ds_csv_open_memory(ds_csv_reader *r, const char *data, size_t size, const char *name,
                             const ds_csv_options *opt, ds_err *err) {
    memset(r, 0, sizeof *r);
    const ds_csv_options defaults = ds_csv_options_csv();
    r->opt = opt ? *opt : defaults;
    if (name == NULL) name = "<memory>";
    DS_TRY(check_options(&r->opt, name, err));
    DS_TRY(ds_utf8_check(data, size, name, err));
    r->name = strdup(name);
    if (r->name == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", name);
    r->data = data;
    r->size = size;
    r->pos = ds_utf8_bom_length(data, size);
    r->line = 1;
    return DS_OK;
}

ds_status ds_csv_open_file(ds_csv_reader *r, const char *path, const ds_csv_options *opt, ds_err *err) {
    memset(r, 0, sizeof *r);
    char *data = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &data, &size, err));
    const ds_status s = ds_csv_open_memory(r, data, size, path, opt, err);
    if (s != DS_OK) {
        free(data);
        return s;
    }
    r->owned = data;
    return DS_OK;
}

void ds_csv_close(ds_csv_reader *r) {
    free(r->name);
    free(r->owned);
    free(r->scratch);
    free(r->starts);
    free(r->lengths);
    free(r->ptrs);
    memset(r, 0, sizeof *r);
}

// ---- the current record's storage -----------------------------------------------------------

static ds_status scratch_append(ds_csv_reader *r, const char *bytes, size_t n, ds_err *err) {
    if (n == 0) return DS_OK;  // also keeps memcpy away from a still-NULL scratch
    if (r->scratch_len + n > r->scratch_cap) {
        size_t cap = r->scratch_cap ? r->scratch_cap : 256;
        while (cap < r->scratch_len + n) cap *= 2;
        char *bigger = realloc(r->scratch, cap);
        if (bigger == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for a %zu-byte record", r->name, cap);
        r->scratch = bigger;
        r->scratch_cap = cap;
    }
    memcpy(r->scratch + r->scratch_len, bytes, n);
    r->scratch_len += n;
    return DS_OK;
}

// Ends field number `index` (which started at scratch offset `start`): NUL-terminates it and
// records its place.
static ds_status finish_field(ds_csv_reader *r, size_t index, size_t start, ds_err *err) {
    if (index == r->fields_cap) {
        const size_t cap = r->fields_cap ? 2 * r->fields_cap : 16;
        size_t *starts = realloc(r->starts, cap * sizeof *starts);
        if (starts) r->starts = starts;
        size_t *lengths = realloc(r->lengths, cap * sizeof *lengths);
        if (lengths) r->lengths = lengths;
        const char **ptrs = realloc(r->ptrs, cap * sizeof *ptrs);
        if (ptrs) r->ptrs = ptrs;
        if (!starts || !lengths || !ptrs) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory for %zu fields", r->name, cap);
        r->fields_cap = cap;
    }
    r->starts[index] = start;
    r->lengths[index] = r->scratch_len - start;
    return scratch_append(r, "", 1, err);
}

// ---- parsing -----------------------------------------------------------------------------------

static int is_line_end(char c) { return c == '\n' || c == '\r'; }

// Consumes one line end (CRLF, LF or a lone CR) at r->pos, if there is one.
static void eat_line_end(ds_csv_reader *r) {
    if (r->pos < r->size && r->data[r->pos] == '\r') {
        r->pos++;
        if (r->pos < r->size && r->data[r->pos] == '\n') r->pos++;
        r->line++;
    } else if (r->pos < r->size && r->data[r->pos] == '\n') {
        r->pos++;
        r->line++;
    }
}

// A quoted field: r->pos is on the opening quote. Copies the content, undoubling quotes and
// counting the line ends it holds, and stops after the closing quote.
static ds_status read_quoted(ds_csv_reader *r, ds_err *err) {
    const char q = r->opt.quote;
    const long open_line = r->line;
    r->pos++;
    for (;;) {
        size_t end = r->pos;  // scan a run of ordinary bytes
        while (end < r->size && r->data[end] != q) {
            if (r->data[end] == '\n') r->line++;
            else if (r->data[end] == '\r' && (end + 1 == r->size || r->data[end + 1] != '\n')) r->line++;
            end++;
        }
        DS_TRY(scratch_append(r, r->data + r->pos, end - r->pos, err));
        r->pos = end;
        if (r->pos == r->size)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s:%ld: the quoted field opened on this line is never closed (end of file "
                              "reached); a quote inside a quoted field must be doubled (\"\")",
                              r->name, open_line);
        if (r->pos + 1 < r->size && r->data[r->pos + 1] == q) {  // "" inside quotes: one quote
            DS_TRY(scratch_append(r, &q, 1, err));
            r->pos += 2;
            continue;
        }
        r->pos++;  // the closing quote
        break;
    }
    if (r->pos < r->size && r->data[r->pos] != r->opt.delimiter && !is_line_end(r->data[r->pos]))
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s:%ld: text after the closing quote of a field (expected the delimiter or the end "
                          "of the line); a quote inside a quoted field must be doubled (\"\")",
                          r->name, r->line);
    return DS_OK;
}

// An unquoted field: bytes up to the delimiter or the line end.
static ds_status read_unquoted(ds_csv_reader *r, ds_err *err) {
    size_t end = r->pos;
    while (end < r->size && r->data[end] != r->opt.delimiter && !is_line_end(r->data[end])) {
        if (r->opt.quote != 0 && r->data[end] == r->opt.quote)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s:%ld: a quote inside an unquoted field; a field holding quotes must be quoted "
                              "as a whole, with each inner quote doubled (\"\")",
                              r->name, r->line);
        end++;
    }
    DS_TRY(scratch_append(r, r->data + r->pos, end - r->pos, err));
    r->pos = end;
    return DS_OK;
}

ds_status ds_csv_next(ds_csv_reader *r, ds_csv_record *rec, int *got, ds_err *err) {
    *got = 0;
    while (r->pos < r->size && is_line_end(r->data[r->pos])) eat_line_end(r);  // blank lines
    if (r->pos >= r->size) return DS_OK;
    const long start_line = r->line;
    r->scratch_len = 0;
    size_t count = 0;
    for (;;) {
        const size_t start = r->scratch_len;
        if (r->opt.quote != 0 && r->pos < r->size && r->data[r->pos] == r->opt.quote)
            DS_TRY(read_quoted(r, err));
        else
            DS_TRY(read_unquoted(r, err));
        DS_TRY(finish_field(r, count++, start, err));
        if (r->pos < r->size && r->data[r->pos] == r->opt.delimiter) {
            r->pos++;
            continue;  // a delimiter before the line end starts one more (possibly empty) field
        }
        eat_line_end(r);
        break;
    }
    for (size_t i = 0; i < count; i++) r->ptrs[i] = r->scratch + r->starts[i];
    rec->count = count;
    rec->fields = r->ptrs;
    rec->lengths = r->lengths;
    rec->line = start_line;
    *got = 1;
    return DS_OK;
}
