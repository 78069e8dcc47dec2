// Whole-file reads for the text readers: a dataset file is read into one host buffer, parsed,
// and its strings copied out, so the readers never deal with partial buffers.
#ifndef DS_FILE_READ_H
#define DS_FILE_READ_H

#include <stddef.h>

#include "../../runtime/base/status.h"

// Reads all of `path` into a fresh malloc'd buffer (*data, (*size) bytes, host) with one extra
// NUL byte after the end, so parsers that stop at a NUL never run off it. The caller frees *data.
ds_status ds_read_whole_file(const char *path, char **data, size_t *size, ds_err *err);

#endif
