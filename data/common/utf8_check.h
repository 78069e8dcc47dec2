// UTF-8 checks shared by the text readers (CSV/TSV, JSONL): byte-order mark, well-formedness,
// and the physical line of a byte offset for error messages.
#ifndef DS_UTF8_CHECK_H
#define DS_UTF8_CHECK_H

#include <stddef.h>

#include "../../runtime/base/status.h"

// 3 when data starts with the UTF-8 byte-order mark EF BB BF (as Excel writes it), else 0.
size_t ds_utf8_bom_length(const char *data, size_t size);

// Physical line (1-based) holding byte `offset` (<= size) of data[0, size): LF, CRLF and a lone CR
// each end one line, the rule Python's csv module (file opened with newline='') counts lines by.
long ds_text_line_of(const char *data, size_t size, size_t offset);

// Checks that data[0, size) is well-formed UTF-8 (RFC 3629: shortest forms only, no surrogates,
// nothing above U+10FFFF) and holds no NUL byte (the readers hand out NUL-terminated strings).
// On failure: DS_ERR_FORMAT with "<name>:<line>: ..." naming the byte and its column; offsets
// and lines count from data itself, so pass the whole file (a skipped BOM still counts as line 1).
ds_status ds_utf8_check(const char *data, size_t size, const char *name, ds_err *err);

#endif
