// Filesystem helpers every writer shares: creating folders and replacing a file atomically.
#ifndef DS_FS_H
#define DS_FS_H

#include <stddef.h>

#include "../base/status.h"

// mkdir -p: creates `path` and its missing parents (0777 before the umask). An existing folder is
// fine; DS_ERR_IO names the part that could not be created and why.
ds_status ds_mkdirs(const char *path, ds_err *err);

// Writes `len` bytes to `path` through a temporary file in the same folder, fsync and rename, so
// a reader sees the old file or the new one, never a part; the temporary file is removed on
// failure. DS_ERR_IO names the file.
ds_status ds_write_file_atomic(const char *path, const void *data, size_t len, ds_err *err);

#endif
