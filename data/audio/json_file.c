// JSON files of model directories (see json_file.h).
#include "json_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../runtime/base/check.h"
#include "../common/file_read.h"

ds_status ds_json_file_read(const char *dir, const char *name, bool optional, cJSON **out, char *path_out,
                            size_t cap, ds_err *err) {
    *out = NULL;
    char path[4096];
    const int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    DS_REQUIRE(err, w > 0 && (size_t)w < sizeof path, DS_ERR_INVALID_ARG, "%s/%s: path too long", dir, name);
    if (path_out) snprintf(path_out, cap, "%s", path);
    struct stat st;
    if (stat(path, &st) != 0) {
        if (optional && errno == ENOENT) return DS_OK;
        return ds_err_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    char *text = NULL;
    size_t size = 0;
    DS_TRY(ds_read_whole_file(path, &text, &size, err));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, size, &end, false);
    if (root == NULL) {
        int line = 1;
        const size_t at = end && end >= text ? (size_t)(end - text) : 0;
        for (size_t i = 0; i < at && i < size; i++) line += text[i] == '\n';
        free(text);
        return ds_err_set(err, DS_ERR_FORMAT, "%s:%d: not valid JSON", path, line);
    }
    free(text);
    *out = root;
    return DS_OK;
}

ds_status ds_text_file_write(const char *dir, const char *name, const char *text, size_t len, ds_err *err) {
    char path[4096];
    const int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    DS_REQUIRE(err, w > 0 && (size_t)w < sizeof path, DS_ERR_INVALID_ARG, "%s/%s: path too long", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) return ds_err_set(err, DS_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    const size_t put = fwrite(text, 1, len, f);
    const int closed = fclose(f);
    DS_REQUIRE(err, put == len && closed == 0, DS_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return DS_OK;
}
