// Resuming a run (train.resume) and keeping the ranks identical.
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "trainer_internal.h"

bool ds_trainer_resume_wanted(const trainer *t) {
    const char *r = ds_config_str(t->cfg, "train.resume");
    if (strcmp(r, "true") == 0) return true;
    if (strcmp(r, "false") == 0) return false;
    // auto: a Slurm job resumes (a requeued or restarted job finds its checkpoints); elsewhere a
    // run starts anew, as it always did.
    const char *job = getenv("SLURM_JOB_ID");
    return job && job[0];
}

ds_status ds_trainer_resume_seeds(trainer *t) {
    ds_context *ctx = t->ctx;
    struct {
        int64_t found;
        uint64_t seed, shuffle_seed;
    } rp = {0, 0, 0};
    if (ds_trainer_is_root(t) && ds_trainer_resume_wanted(t)) {
        char path[4096];
        bool found = false;
        DS_TRY(ds_checkpoint_latest(ds_config_str(t->cfg, "train.output_dir"), path, sizeof path, &found, &ctx->err));
        if (found) {
            ds_train_state st;
            DS_TRY(ds_checkpoint_peek_state(path, &st, &ctx->err));
            rp.found = 1;
            rp.seed = st.seed;
            rp.shuffle_seed = st.shuffle_seed;
        }
    }
    DS_TRY(ds_trainer_broadcast(t, &rp, sizeof rp));
    if (!rp.found) return DS_OK;
    if (rp.seed != ctx->seed)
        DS_LOG_WARN(&ctx->log, "resuming a run of seed %llu with run.seed %llu: run.seed is ignored; the split, the data "
                    "order and every random mask come from the checkpoint's seed",
                    (unsigned long long)rp.seed, (unsigned long long)ctx->seed);
    ctx->seed = rp.seed;
    return DS_OK;
}

// Rank 0's resume point: the latest checkpoint loaded, its global batch read from the user JSON
// and the position in the epoch converted to this run's global batch.
static ds_status load_resume_point(trainer *t, bool *found) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    char path[4096];
    *found = false;
    DS_TRY(ds_checkpoint_latest(t->ck.dir, path, sizeof path, found, err));
    if (!*found) {
        if (strcmp(ds_config_str(t->cfg, "train.resume"), "true") == 0)
            DS_LOG_WARN(&ctx->log, "train.resume: no checkpoint in %s; starting from the pretrained model", t->ck.dir);
        return DS_OK;
    }
    char *user = NULL;
    DS_TRY(ds_checkpoint_load(path, t->pb, &t->optim, &t->state, &user, err));
    cJSON *root = user ? cJSON_Parse(user) : NULL;
    const cJSON *gb = cJSON_GetObjectItemCaseSensitive(root, "global_batch");
    const int64_t saved_global = cJSON_IsNumber(gb) && gb->valuedouble >= 1 ? (int64_t)gb->valuedouble
                                                                            : (int64_t)t->global_batch;
    cJSON_Delete(root);
    free(user);
    if (saved_global != (int64_t)t->global_batch) {
        // The position is in global micro-batches of the saved run: go through examples consumed.
        const int64_t consumed = t->state.epoch_position * saved_global;
        t->state.epoch_position = consumed / (int64_t)t->global_batch;
        const int64_t again = consumed - t->state.epoch_position * (int64_t)t->global_batch;
        DS_LOG_WARN(&ctx->log,
                    "resuming a run of global batch %lld with global batch %zu: %lld examples of epoch %lld were "
                    "consumed, so it continues at batch %lld%s%lld%s",
                    (long long)saved_global, t->global_batch, (long long)consumed, (long long)t->state.epoch,
                    (long long)t->state.epoch_position, again ? " (repeating the last " : "", (long long)again,
                    again ? " examples)" : "");
    }
    DS_REQUIRE(err, t->state.seed == ctx->seed, DS_ERR_INTERNAL,
               "resume: the checkpoint's seed %llu is not the one the run was built with (%llu)",
               (unsigned long long)t->state.seed, (unsigned long long)ctx->seed);
    DS_LOG_INFO(&ctx->log, "resumed from %s: step %lld, epoch %lld, %lld micro-batches into it", path,
                (long long)t->optim.step, (long long)t->state.epoch, (long long)t->state.epoch_position);
    return DS_OK;
}

// What rank 0 tells the others after loading: whether it resumed, and from where.
typedef struct resume_point {
    int64_t found;
    int64_t step;
    ds_train_state state;
} resume_point;

ds_status ds_trainer_resume_and_share(trainer *t) {
    ds_context *ctx = t->ctx;
    resume_point rp;
    memset(&rp, 0, sizeof rp);
    if (ds_trainer_is_root(t) && ds_trainer_resume_wanted(t)) {
        bool found = false;
        DS_TRY(load_resume_point(t, &found));
        rp.found = found;
        rp.step = t->optim.step;
        rp.state = t->state;
    }
    DS_TRY(ds_trainer_broadcast(t, &rp, sizeof rp));
    // Parameters and buffers: the whole block (its host array is the staging copy on CUDA).
    DS_TRY(ds_trainer_broadcast(t, t->pb->params, t->pb->total * sizeof(float)));
    DS_TRY(ds_param_block_upload(ctx, t->pb));
    if (!rp.found) return DS_OK;
    for (int k = 0; k < t->optim.nstates; k++)
        DS_TRY(ds_trainer_broadcast(t, t->optim.state[k], t->optim.total * sizeof(float)));
    DS_TRY(ds_optim_upload(ctx, &t->optim));
    t->optim.step = rp.step;
    t->state = rp.state;
    t->last_ckpt_step = t->optim.step;
    t->last_ckpt_evaluated = true;
    return DS_OK;
}

// A 64-bit hash of the parameter block's bits (for the cross-rank consistency check).
static uint64_t params_hash(const ds_param_block *pb) {
    const uint32_t *w = (const uint32_t *)pb->params;  // (total) host, the floats' bits
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < pb->total; i++) h = (h ^ w[i]) * 1099511628211ull;
    return h;
}

// Every rank must hold the very same parameters and buffers (same reduced gradients, same
// optimizer arithmetic, SyncBN's same statistics); a difference is a bug that would silently break
// the equivalence with one process: fail.
ds_status ds_trainer_check_ranks_agree(trainer *t) {
    if (t->world == 1) return DS_OK;
    const uint64_t mine = params_hash(t->pb);
    uint64_t root = mine;
    DS_TRY(ds_trainer_broadcast(t, &root, sizeof root));
    int64_t differ = root != mine;
    DS_TRY(ds_trainer_allreduce(t, &differ, 1, DS_I64));
    DS_REQUIRE(&t->ctx->err, differ == 0, DS_ERR_INTERNAL,
               "after step %lld the parameters of %lld rank(s) differ from rank 0's%s", (long long)t->optim.step,
               (long long)differ, root != mine ? " (this rank's among them)" : "");
    return DS_OK;
}
