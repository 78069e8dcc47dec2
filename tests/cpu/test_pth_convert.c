// `downstream convert`: every checkpoint in tests/fixtures/pth/expected.json converts to a
// safetensors file byte-identical to the one safetensors.torch.save_file wrote from torch.load's
// tensors (same metadata {"format": "pt"}, same layout); refused checkpoints exit 1 and write
// nothing; usage errors exit 2. Needs DS_BIN (set by ctest); skipped (77) without it.
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../test_util.h"

// Runs `cmd`, returns its exit status (-1 when it did not exit normally).
static int run(const char *cmd) {
    const int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static bool file_has(const char *path, const char *text) {
    char *s = ds_test_read_file(path, NULL);
    const bool has = s && strstr(s, text);
    free(s);
    return has;
}

int main(void) {
    const char *bin = getenv("DS_BIN");
    if (bin == NULL) {
        printf("test_pth_convert: skipped: DS_BIN (the downstream binary) is not set; run it through ctest\n");
        return DS_TEST_SKIP;
    }
    ds_test t = ds_test_begin("test_pth_convert");
    char json_path[1024], in[1024], want[1024], out[1024], log[1024], cmd[4096];
    ds_test_tmpfile("pth_convert.safetensors", out, sizeof out);
    ds_test_tmpfile("pth_convert.log", log, sizeof log);
    char *json = ds_test_read_file(ds_test_fixture("pth/expected.json", json_path, sizeof json_path), NULL);
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    ds_test_check(&t, root != NULL, "cannot read %s", json_path);
    for (const cJSON *e = root ? root->child : NULL; e != NULL; e = e->next) {
        char rel[256];
        snprintf(rel, sizeof rel, "pth/%s", e->string);
        ds_test_fixture(rel, in, sizeof in);
        snprintf(rel, sizeof rel, "pth/%s", cJSON_GetObjectItem(e, "tensors")->valuestring);
        ds_test_fixture(rel, want, sizeof want);
        unlink(out);
        snprintf(cmd, sizeof cmd, "'%s' convert '%s' '%s' >'%s' 2>&1", bin, in, out, log);
        const int rc = run(cmd);
        ds_test_check(&t, rc == 0 && ds_test_same_bytes(out, want), "convert %s: exit %d, output %s %s", e->string, rc,
                      rc == 0 ? "differs from" : "vs", want);
        if (cJSON_GetArraySize(cJSON_GetObjectItem(e, "ignored_globals")) > 0)
            ds_test_check(&t, file_has(log, "never executed): argparse.Namespace"),
                          "convert %s: the ignored globals are not listed", e->string);
    }
    cJSON_Delete(root);
    free(json);

    // A safetensors input passes through unchanged.
    ds_test_fixture("pth/values.safetensors", in, sizeof in);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' '%s' >'%s' 2>&1", bin, in, out, log);
    ds_test_check(&t, run(cmd) == 0 && ds_test_same_bytes(out, in), "convert of a safetensors file");

    // Refused: exit 1, one message naming the file and the global, no output written.
    ds_test_fixture("pth/forbidden_system_zip.pth", in, sizeof in);
    unlink(out);
    snprintf(cmd, sizeof cmd, "'%s' convert '%s' '%s' >'%s' 2>&1", bin, in, out, log);
    int rc = run(cmd);
    ds_test_check(&t, rc == 1 && access(out, F_OK) != 0 && file_has(log, "downstream convert: ") &&
                          file_has(log, "forbidden_system_zip.pth") && file_has(log, "posix.system"),
                  "convert of a forbidden checkpoint: exit %d", rc);

    snprintf(cmd, sizeof cmd, "'%s' convert >'%s' 2>&1", bin, log);
    rc = run(cmd);
    ds_test_check(&t, rc == 2 && file_has(log, "usage: downstream convert"), "convert without arguments: exit %d", rc);
    snprintf(cmd, sizeof cmd, "'%s' convert a b c >'%s' 2>&1", bin, log);
    rc = run(cmd);
    ds_test_check(&t, rc == 2 && file_has(log, "third argument 'c'"), "convert with three paths: exit %d", rc);
    snprintf(cmd, sizeof cmd, "'%s' convert --bogus a b >'%s' 2>&1", bin, log);
    rc = run(cmd);
    ds_test_check(&t, rc == 2 && file_has(log, "unknown option '--bogus'"), "convert --bogus: exit %d", rc);
    snprintf(cmd, sizeof cmd, "'%s' convert --help >'%s' 2>&1", bin, log);
    rc = run(cmd);
    ds_test_check(&t, rc == 0 && file_has(log, "never executes anything") && file_has(log, "_rebuild_tensor_v2"),
                  "convert --help: exit %d", rc);
    snprintf(cmd, sizeof cmd, "'%s' --help >'%s' 2>&1", bin, log);
    ds_test_check(&t, run(cmd) == 0 && file_has(log, "  convert "), "`downstream --help` lists convert");
    unlink(out);
    unlink(log);
    return ds_test_finish(&t);
}
