// Replays inputs through a fuzz target without libFuzzer: `fuzz_replay_<name> PATH...` calls the
// target's LLVMFuzzerTestOneInput once per file (a folder: every file in it). Built in every
// build, so the crash inputs kept in tests/fuzz/corpus/<name>/ are regression tests, also under
// the ASan + UBSan build (DS_SANITIZE=ON), where a regression aborts the run.
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"

// Runs the target over the file at path; returns 0, or 1 when the file cannot be read.
static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 1;
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        const size_t got = fread(buf + len, 1, cap - len, f);
        if (got == 0) break;
        len += got;
    }
    const int bad = ferror(f) || !buf;
    fclose(f);
    if (!bad) LLVMFuzzerTestOneInput(buf, len);  // libFuzzer hands over exactly len bytes too
    free(buf);
    if (bad) fprintf(stderr, "replay: cannot read %s\n", path);
    return bad;
}

int main(int argc, char **argv) {
    int failed = 0, count = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s does not exist\n", argv[a]);
            return 1;
        }
        if (!S_ISDIR(st.st_mode)) {
            failed += replay_file(argv[a]);
            count++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) return 1;
        struct dirent *e;
        char path[4096];
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') continue;
            if ((size_t)snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name) >= sizeof path) continue;
            failed += replay_file(path);
            count++;
        }
        closedir(d);
    }
    printf("replayed %d inputs\n", count);
    if (count == 0) fprintf(stderr, "replay: no inputs\n");
    return failed || count == 0 ? 1 : 0;
}
