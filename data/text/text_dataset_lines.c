// Plain-text lines into the text dataset (DS_TEXT_FORMAT_LINES, unlabelled): one example per
// physical line, the first TAB separating the text from its pair. Line ends are LF, CRLF or a
// lone CR (Python's universal newlines, as `for line in open(path)` reads them); empty lines are
// skipped, so a trailing newline or a blank separator line adds no example.
#include <stdbool.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "text_dataset_build.h"
#include "../common/utf8_check.h"

ds_status ds_text_read_lines(ds_text_builder *b, const char *data, size_t size, ds_err *err) {
    DS_TRY(ds_utf8_check(data, size, b->d->source, err));  // also refuses NUL bytes
    size_t pos = ds_utf8_bom_length(data, size);
    long line = 1;
    while (pos < size) {
        size_t end = pos;
        while (end < size && data[end] != '\n' && data[end] != '\r') end++;
        if (end > pos) {
            const char *tab = memchr(data + pos, '\t', end - pos);
            ds_text_raw_row row = {.line = line, .text = data + pos, .text_len = end - pos};
            if (tab != NULL) {
                row.text_len = (size_t)(tab - (data + pos));
                row.pair = tab + 1;
                row.pair_len = (size_t)(data + end - row.pair);
            }
            // The builder copies exactly text_len / pair_len bytes, so the strings need no NUL here.
            DS_TRY(ds_text_builder_add(b, &row, err));
        }
        const bool crlf = end + 1 < size && data[end] == '\r' && data[end + 1] == '\n';
        pos = end < size ? end + 1 + crlf : end;
        line++;
    }
    return DS_OK;
}
