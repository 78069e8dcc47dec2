// Helpers shared by the fuzz targets (tests/fuzz/fuzz_*.c): each target defines
// LLVMFuzzerTestOneInput, linked either with libFuzzer (DS_FUZZ=ON, scripts/fuzz.sh) or with
// replay_main.c (every build: the ctest fuzz_replay_<name> feeds it tests/fuzz/corpus/<name>/).
#ifndef DS_FUZZ_UTIL_H
#define DS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

// A fresh folder for readers that take paths: /tmp (or $TMPDIR)/ds_fuzz_<tag>_<pid> into
// dir[cap]; the pid keeps parallel fuzzers apart. Returns 0, or -1 when it cannot be made.
int fuzz_dir_make(char *dir, size_t cap, const char *tag);

// Writes data[0, size) to dir/name and puts that path into path[cap]. Returns 0 or -1.
int fuzz_write(const char *dir, const char *name, const void *data, size_t size, char *path, size_t cap);

// Removes every file of dir (one level: the targets make no subfolders) and dir itself.
void fuzz_dir_remove(const char *dir);

// Splits data[0, size) at NUL bytes into at most max parts (the last takes the rest, NULs
// included): how the targets that read several files at once carry them in one input.
// part[i] points into data; len[i] is its length. Returns the number of parts (>= 1).
int fuzz_split(const uint8_t *data, size_t size, const uint8_t **part, size_t *len, int max);

// A NUL-terminated heap copy of data[0, size), or NULL when out of memory.
char *fuzz_cstr(const uint8_t *data, size_t size);

// With DS_FUZZ_VERBOSE set in the environment, prints what a reader returned ("ok" or its error
// message) to stdout: `DS_FUZZ_VERBOSE=1 fuzz_replay_audio FILE` shows the message a user would
// get for FILE (used by tests/cli/test_bad_inputs.sh for readers no command reaches yet).
void fuzz_note(ds_status st, const ds_err *err);

#endif
