// Fuzz target: checkpoints (runtime/io/checkpoint.h): the train state a resumed run reads first
// (ds_checkpoint_peek_state) and the full load into a small parameter block with AdamW state
// (checksums, names, shapes, dtypes, the optimizer's moments and step, the user JSON). The first
// input byte picks the call (0 peek, 1 load); the rest is the file. Seeds:
// tests/fuzz/corpus/train_state/ holds checkpoints of this target's block written by
// ds_checkpoint_save (see FUZZ_WRITE_SEED below).
#include <stdio.h>
#include <stdlib.h>

#include "../../runtime/io/checkpoint.h"
#include "fuzz_util.h"

// The block the load target restores into: one trainable matrix, a bias and a buffer.
static const ds_param_spec k_specs[] = {
    {.name = "layer.weight", .ndim = 2, .shape = {3, 4}, .decay = true},
    {.name = "layer.bias", .ndim = 1, .shape = {3}},
    {.name = "bn.running_mean", .ndim = 1, .shape = {4}, .kind = DS_PARAM_BUFFER},
};

static int block_make(ds_param_block *pb, ds_optim *o, ds_err *err) {
    if (ds_param_block_init(pb, k_specs, 3, err) != DS_OK) return -1;
    ds_optim_options oo = ds_optim_options_default();
    if (ds_optim_init(o, pb, &oo, err) != DS_OK) {
        ds_param_block_free(pb);
        return -1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    char dir[512], path[1024];
    if (fuzz_dir_make(dir, sizeof dir, "train_state") != 0) return 0;
    if (fuzz_write(dir, "checkpoint.safetensors", data + 1, size - 1, path, sizeof path) == 0) {
        ds_err err = {0};
        ds_train_state state;
        if (data[0] % 2 == 0) {
            fuzz_note(ds_checkpoint_peek_state(path, &state, &err), &err);
        } else {
            ds_param_block pb;
            ds_optim o;
            if (block_make(&pb, &o, &err) == 0) {
                char *user = NULL;
                fuzz_note(ds_checkpoint_load(path, &pb, &o, &state, &user, &err), &err);
                free(user);
                ds_optim_free(&o);
                ds_param_block_free(&pb);
            }
        }
    }
    fuzz_dir_remove(dir);
    return 0;
}

#ifdef FUZZ_WRITE_SEED
// cc -DFUZZ_WRITE_SEED ... : writes a checkpoint of the block (with a train state and user JSON)
// to argv[1], the seed kept in tests/fuzz/corpus/train_state/ (with the mode byte in front).
int main(int argc, char **argv) {
    ds_param_block pb;
    ds_optim o;
    ds_err err = {0};
    if (argc < 2 || block_make(&pb, &o, &err) != 0) return 1;
    for (size_t i = 0; i < pb.total; i++) pb.params[i] = (float)i * 0.25f;
    o.step = 7;
    ds_train_state s = {.scheduler_step = 7, .epoch = 1, .epoch_position = 3, .seed = 42, .shuffle_seed = 43};
    ds_train_state_update_best(&s, "eval_accuracy", 0.75, true, 5);
    const ds_status st = ds_checkpoint_save(argv[1], &pb, &o, &s, "{\"id2label\":{\"0\":\"a\"}}", &err);
    if (st != DS_OK) fprintf(stderr, "%s\n", err.msg);
    ds_optim_free(&o);
    ds_param_block_free(&pb);
    return st == DS_OK ? 0 : 1;
}
#endif
