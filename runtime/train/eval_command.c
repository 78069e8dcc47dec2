#include "eval_command.h"

#include <string.h>

#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "../tasks/registry.h"
#include "evaluator.h"
#include "run_device.h"

void ds_eval_summary_free(ds_eval_summary *s) {
    ds_eval_result_free(&s->dev);
    ds_eval_result_free(&s->test);
    memset(s, 0, sizeof *s);
}

static ds_status run(ds_context *ctx, const ds_config *cfg, ds_task *t, ds_eval_summary *out) {
    ds_err *err = &ctx->err;
    const ds_task_family *f = t->family;
    const size_t batch = (size_t)ds_config_int(cfg, "train.batch_size");
    ds_dtype act = DS_F32;  // run.precision: bf16 on CUDA by default, as training
    DS_TRY(ds_run_act_dtype(ctx, cfg, &act, err));
    DS_TRY(f->to_device(ctx, t, act));
    size_t bytes = 0;
    DS_TRY(f->arena_bytes(ctx, t, batch, false, &bytes));
    ds_arena arena = {0};
    DS_TRY(ds_arena_init_for(ctx, &arena, bytes));
    ds_status st = DS_OK;
    if (f->count(t, DS_DATA_DEV) > 0 &&
        (st = ds_evaluate_split(ctx, t, DS_DATA_DEV, batch, &arena, NULL, "eval_", &out->dev)) == DS_OK)
        out->has_dev = true;
    if (st == DS_OK && f->count(t, DS_DATA_TEST) > 0 &&
        (st = ds_evaluate_split(ctx, t, DS_DATA_TEST, batch, &arena, NULL, "test_", &out->test)) == DS_OK)
        out->has_test = true;
    ds_arena_free(&arena);
    return st;
}

ds_status ds_eval_model(ds_context *ctx, const ds_config *cfg, ds_eval_summary *out) {
    memset(out, 0, sizeof *out);
    const ds_task_family *f = NULL;
    DS_TRY(ds_task_family_of_config(cfg, &f, &ctx->err));
    ds_task *t = NULL;
    DS_TRY(f->open_eval(ctx, cfg, &t));
    const ds_status st = run(ctx, cfg, t, out);
    f->close(t);
    if (st != DS_OK) ds_eval_summary_free(out);
    return st;
}
