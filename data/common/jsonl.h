// A JSON Lines reader (one JSON object per line) over a memory buffer or a whole file, parsed
// with cJSON. Lines end at LF (a CR before it is JSON whitespace); lines holding only
// whitespace are skipped; a UTF-8 byte-order mark at the start is skipped. The whole input must
// be valid UTF-8 (checked once at open, as Python's decoder would). Lines count from 1.
#ifndef DS_JSONL_H
#define DS_JSONL_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "../../runtime/base/status.h"

typedef struct ds_jsonl_reader {
    char *name;        // file path or caller's name for messages (owned copy)
    char *owned;       // file contents when opened from a file, else NULL
    const char *data;  // (size) host: the input, BOM included
    size_t size;
    size_t pos;        // start of the next unread line
    long line;         // line number of data[pos]
    cJSON *current;    // the object returned last, freed by the next call
} ds_jsonl_reader;

// Reads over data[0, size) (host, not copied: it must outlive the reader). `name` appears in
// messages ("train.jsonl:12: ...").
ds_status ds_jsonl_open_memory(ds_jsonl_reader *r, const char *data, size_t size, const char *name, ds_err *err);

// Reads the whole file at path into memory and opens it as above.
ds_status ds_jsonl_open_file(ds_jsonl_reader *r, const char *path, ds_err *err);

// Parses the next non-blank line into *obj (owned by the reader, valid until the next call or
// close) and its line number into *line; at the end sets *got = 0. A line that is not one JSON
// object (bad syntax, an array, text after the object) is DS_ERR_FORMAT with "<name>:<line>: ...";
// *line is set even then, and the reader can go on with the next line (each line stands alone).
ds_status ds_jsonl_next(ds_jsonl_reader *r, const cJSON **obj, long *line, int *got, ds_err *err);

void ds_jsonl_close(ds_jsonl_reader *r);

// cJSON's name for a value's type ("string", "number", "array", ...), for messages.
const char *ds_json_type_name(const cJSON *v);

#endif
