// Reading one JSON file of a model directory (vocab.json, tokenizer_config.json, ...) with cJSON.
#ifndef DS_AUDIO_JSON_FILE_H
#define DS_AUDIO_JSON_FILE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "../../runtime/base/status.h"

// Parses dir/name into *out (the caller cJSON_Deletes it). When the file does not exist and
// `optional` is true, *out = NULL and DS_OK; a file that exists but is not valid JSON is
// DS_ERR_FORMAT naming the file and the line. path_out (cap bytes, may be NULL) receives the path.
ds_status ds_json_file_read(const char *dir, const char *name, bool optional, cJSON **out, char *path_out,
                            size_t cap, ds_err *err);

// Writes `text` to dir/name (replacing it). Errors name the path.
ds_status ds_text_file_write(const char *dir, const char *name, const char *text, size_t len, ds_err *err);

#endif
