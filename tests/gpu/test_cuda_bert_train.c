// `downstream train` end to end on CUDA, on the tiny BERT fixture (tests/fixtures/trainer): in bf16
// mixed precision and in fp32, a run trains, evaluates, writes checkpoints and exports; and resume
// is bit-exact in deterministic mode: 10 steps straight give the same checkpoint file, byte for
// byte, as 5 steps, stop, resume, 5 steps (dropout on). The CPU twin is tests/cli/test_train.sh.
// Skipped (77) without a usable CUDA device; needs DS_BIN (set by ctest) for the binary.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../kernels/cuda_info.h"
#include "../test_util.h"

static bool run(const char *cmd) {
    const int rc = system(cmd);
    if (rc != 0) printf("command failed (%d): %s\n", rc, cmd);
    return rc == 0;
}

static bool file_has(const char *path, const char *needle) {
    char *x = ds_test_read_file(path, NULL);
    const bool has = x && strstr(x, needle);
    free(x);
    return has;
}

static void check_precision(ds_test *t, const char *bin, const char *cfg, const char *tmp, const char *precision) {
    char cmd[8192], a[4096], b[4096], log[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' train --config '%s' --set run.device=cuda --set run.precision=%s --set train.output_dir='%s/%s_straight' "
             ">'%s/%s_straight.out' 2>'%s/%s_straight.err'",
             bin, cfg, precision, tmp, precision, tmp, precision, tmp, precision);
    if (!ds_test_check(t, run(cmd), "%s: straight run", precision)) return;
    snprintf(log, sizeof log, "%s/%s_straight.err", tmp, precision);
    ds_test_check(t, file_has(log, "device: cuda:"), "%s: the log does not say it ran on CUDA", precision);
    snprintf(a, sizeof a, "%s/%s_straight.out", tmp, precision);
    ds_test_check(t, file_has(a, "test (12 examples): test_loss"), "%s: no test metrics", precision);
    snprintf(cmd, sizeof cmd,
             "'%s' train --config '%s' --set run.device=cuda --set run.precision=%s --set train.output_dir='%s/%s_resumed' "
             "--set train.stop_after=5 >/dev/null 2>&1 && '%s' train --config '%s' --set run.device=cuda "
             "--set run.precision=%s --set train.output_dir='%s/%s_resumed' --set train.resume=true >/dev/null 2>'%s/%s_second.err'",
             bin, cfg, precision, tmp, precision, bin, cfg, precision, tmp, precision, tmp, precision);
    if (!ds_test_check(t, run(cmd), "%s: 5 + resume + 5", precision)) return;
    snprintf(a, sizeof a, "%s/%s_straight/checkpoint-10.safetensors", tmp, precision);
    snprintf(b, sizeof b, "%s/%s_resumed/checkpoint-10.safetensors", tmp, precision);
    ds_test_check(t, ds_test_same_bytes(a, b), "%s: checkpoint-10 differs between straight and 5 + resume + 5", precision);
    snprintf(a, sizeof a, "%s/%s_straight/model/model.safetensors", tmp, precision);
    struct stat st;
    ds_test_check(t, stat(a, &st) == 0 && st.st_size > 0, "%s: no export", precision);
}

int main(void) {
    char why[256] = "";
    if (ds_cuda_device_count(why, sizeof why) == 0) {
        printf("cuda_bert_train: skipped: %s\n", why);
        return DS_TEST_SKIP;
    }
    const char *bin = getenv("DS_BIN");
    if (!bin) {
        printf("cuda_bert_train: skipped: DS_BIN (the downstream binary) is not set; run it through ctest\n");
        return DS_TEST_SKIP;
    }
    ds_test t = ds_test_begin("cuda_bert_train");
    char tmp[4096], cfg[4200], model[512], data[512], cmd[8400];
    ds_test_tmpfile("cuda_train", tmp, sizeof tmp);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmp, tmp);
    if (!ds_test_check(&t, run(cmd), "temporary folder")) return ds_test_finish(&t);
    ds_test_fixture("trainer/tiny_bert", model, sizeof model);
    ds_test_fixture("trainer/sentiment.csv", data, sizeof data);
    snprintf(cfg, sizeof cfg, "%s/cfg.json", tmp);
    FILE *f = fopen(cfg, "w");
    if (!ds_test_check(&t, f != NULL, "cannot write %s", cfg)) return ds_test_finish(&t);
    // As tests/cli/test_train.sh, with run.deterministic (the default) for the bit-exact resume.
    fprintf(f,
            "{\"run\": {\"seed\": 3, \"deterministic\": true},\n"
            " \"model\": {\"path\": \"%s\", \"max_length\": 24},\n"
            " \"data\": {\"train\": \"%s\", \"split\": \"0.75,0.125,0.125\", \"stratified\": true},\n"
            " \"train\": {\"batch_size\": 8, \"max_steps\": 10, \"eval_every\": 5, \"lr\": 3e-3, \"warmup_steps\": 2,"
            " \"keep_last\": 3, \"log_every\": 1}}\n",
            model, data);
    fclose(f);
    check_precision(&t, bin, cfg, tmp, "bf16");
    check_precision(&t, bin, cfg, tmp, "fp32");
    const int rc = ds_test_finish(&t);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (rc == 0) run(cmd);  // kept for inspection when something failed
    return rc;
}
