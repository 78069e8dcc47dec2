// The trainer with the toy family (tests/toy_family.h), one process, through ds_train_family:
// - frozen tensors never change, and have no optimizer state in the checkpoint;
// - buffers (an I64 counter and an F32 running mean) are saved as buffer/<name> in their dtype and
//   survive stop + resume bit-exactly: 3 steps, stop, resume, 3 steps give checkpoint-6
//   byte-identical to 6 straight steps;
// - the counter counts the training forwards (6 steps x 2 micro-batches);
// - the last incomplete global batch is dropped (batch statistics): 40 sequences in batches of 6
//   make 6 micro-batches per epoch, not 7.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/io/safetensors.h"
#include "../../runtime/train/trainer.h"
#include "../test_util.h"
#include "../toy_family.h"

static ds_status train(const char *dir, const char *extra0, const char *extra1, ds_err *err) {
    char out[1200];
    snprintf(out, sizeof out, "train.output_dir=%s", dir);
    const char *sets[] = {"run.threads=1", "train.optimizer=sgd", "train.lr=0.05", "train.max_grad_norm=0",
                          "train.schedule=constant", "train.batch_size=6", "train.grad_accum=2", "train.max_steps=6",
                          "train.eval_every=3", "train.metric=loss", "train.keep_last=10", out, extra0, extra1};
    const int n = 12 + (extra0 != NULL) + (extra1 != NULL);
    ds_config *cfg = NULL;
    ds_context ctx = ds_context_cpu();
    ctx.log.level = DS_LOG_ERROR;
    ds_status st = ds_config_load(&cfg, NULL, sets, n, &ctx.err);
    ds_train_summary s;
    if (st == DS_OK) {
        ctx.seed = 5;
        st = ds_train_family(&ctx, cfg, &ds_toy_family, NULL, NULL, &s);
        ds_train_summary_free(&s);
    }
    ds_config_free(cfg);
    if (st != DS_OK) *err = ctx.err;
    return st;
}

int main(void) {
    ds_test t = ds_test_begin("trainer_toy");
    char straight[1024], resumed[1024], path[1200], other[1200];
    ds_test_tmpfile("trainer_toy_straight", straight, sizeof straight);  // fresh per process id
    ds_test_tmpfile("trainer_toy_resumed", resumed, sizeof resumed);
    ds_err err;
    ds_err_clear(&err);
    ds_test_check(&t, train(straight, NULL, NULL, &err) == DS_OK, "6 straight steps: %s", err.msg);
    ds_test_check(&t, train(resumed, "train.stop_after=3", NULL, &err) == DS_OK, "3 steps, stop: %s", err.msg);
    ds_test_check(&t, train(resumed, "train.resume=true", NULL, &err) == DS_OK, "resume, 3 steps: %s", err.msg);
    snprintf(path, sizeof path, "%s/checkpoint-6.safetensors", straight);
    snprintf(other, sizeof other, "%s/checkpoint-6.safetensors", resumed);
    ds_test_check(&t, ds_test_same_bytes(path, other), "checkpoint-6 (parameters, buffers, momentum) byte-identical after resume");

    ds_st_file f = {0};
    if (ds_test_check(&t, ds_st_open(path, &f, &err) == DS_OK, "%s", err.msg)) {
        const ds_st_tensor *scale = ds_st_find(&f, "param/frozen.scale"), *count = ds_st_find(&f, "buffer/stats.count");
        const ds_st_tensor *mean = ds_st_find(&f, "buffer/stats.mean");
        ds_test_check(&t, scale && !ds_st_find(&f, "sgd_momentum/frozen.scale") && ds_st_find(&f, "sgd_momentum/w") &&
                              ds_st_find(&f, "sgd_momentum/b"),
                      "frozen tensor saved without optimizer state; trainable ones with it");
        bool unchanged = scale != NULL;
        for (int d = 0; unchanged && d < TOY_D; d++) unchanged = ((const float *)scale->data)[d] == 1.0f + 0.1f * (float)d;
        ds_test_check(&t, unchanged, "the frozen tensor never changed");
        ds_test_check(&t, count && count->dtype == DS_I64 && ((const int64_t *)count->data)[0] == 12,
                      "the I64 counter buffer: %lld training forwards (6 steps x 2 micro-batches)",
                      count ? (long long)((const int64_t *)count->data)[0] : -1ll);
        ds_test_check(&t, mean && mean->dtype == DS_F32 && ((const float *)mean->data)[0] != 0.0f,
                      "the running-mean buffer saved as F32 and updated");
        ds_test_check(&t, !ds_st_find(&f, "param/stats.count") && !ds_st_find(&f, "sgd_momentum/stats.mean"),
                      "buffers are neither parameters nor optimised");
        ds_st_close(&f);
    }
    // 40 sequences, global batch 6: 6 full micro-batches per epoch; 12 micro-batches (6 steps) end
    // exactly at epoch 2's end with drop_last (epoch 1 at position 6 of 6, the checkpoint of an
    // evaluation step being written before the epoch counter moves on), but at position 5 of 7
    // without it.
    snprintf(path, sizeof path, "%s/checkpoint-6.safetensors", straight);
    if (ds_test_check(&t, ds_st_open(path, &f, &err) == DS_OK, "%s", err.msg)) {
        const char *state = ds_st_meta_get(&f, "train_state");
        ds_test_check(&t, state && strstr(state, "\"epoch\":1,") && strstr(state, "\"epoch_position\":6,"),
                      "the last incomplete batch is dropped: step 6 ends epoch 2 (%s)", state ? state : "none");
        ds_st_close(&f);
    }
    return ds_test_finish(&t);
}
