// The trainer's evaluations and checkpoints.
#include <stdio.h>

#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "evaluator.h"
#include "trainer_internal.h"

ds_status ds_trainer_evaluate(trainer *t, ds_data_split s, const char *prefix, ds_eval_result *r) {
    return ds_evaluate_split(t->ctx, t->task, s, t->batch, &t->arena, t->world > 1 ? &t->coll : NULL, prefix, r);
}

ds_status ds_trainer_save_checkpoint(trainer *t, bool is_best) {
    // On CUDA the checkpoint (and the cross-rank hash) read the host staging copy: bring it down.
    DS_TRY(ds_param_block_download(t->ctx, t->pb));
    DS_TRY(ds_trainer_check_ranks_agree(t));
    t->state.scheduler_step = t->optim.step;
    t->last_ckpt_step = t->optim.step;
    if (!ds_trainer_is_root(t)) return DS_OK;
    DS_TRY(ds_optim_download(t->ctx, &t->optim));
    char path[4096];
    DS_TRY(ds_checkpoint_save_step(&t->ck, t->optim.step, is_best, t->pb, &t->optim, &t->state, t->user_json, path,
                                   sizeof path, &t->ctx->err));
    DS_LOG_DEBUG(&t->ctx->log, "checkpoint %s%s", path, is_best ? " (best so far)" : "");
    return DS_OK;
}

ds_status ds_trainer_evaluate_and_save(trainer *t) {
    bool is_best = false;
    if (t->family->count(t->task, DS_DATA_DEV) > 0) {
        ds_eval_result r;
        DS_TRY(ds_trainer_evaluate(t, DS_DATA_DEV, "eval_", &r));
        const double v = ds_eval_value(&r, t->metric);
        const ds_metrics_record rec = {.step = t->optim.step, .epoch = (double)t->state.epoch +
                                       (double)t->state.epoch_position / (double)t->batches_per_epoch,
                                       .extra = r.values, .extra_count = r.count};
        const ds_status ls = t->mlog_open ? ds_metrics_log_write(&t->mlog, &rec, &t->ctx->err) : DS_OK;
        if (ls != DS_OK) {
            ds_eval_result_free(&r);
            return ls;
        }
        ds_progress_clear(&t->progress);
        char line[512];
        size_t n = 0;
        for (int i = 0; i < r.count && n < sizeof line; i++)
            n += (size_t)snprintf(line + n, sizeof line - n, "%s%s %.4f", i ? ", " : "", r.values[i].name,
                                  r.values[i].value);
        ds_eval_result_free(&r);
        is_best = ds_train_state_update_best(&t->state, t->metric, v, t->greater_is_better, t->optim.step);
        t->evals_without_gain = is_best ? 0 : t->evals_without_gain + 1;
        DS_LOG_INFO(&t->ctx->log, "step %lld/%lld dev: %s%s", (long long)t->optim.step, (long long)t->total_steps, line,
                    is_best ? " (best)" : "");
    }
    t->last_ckpt_evaluated = true;
    return ds_trainer_save_checkpoint(t, is_best);
}
