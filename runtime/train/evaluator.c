#include "evaluator.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../base/check.h"

#define MAX_BUFFERS 8

// The sums the evaluator itself keeps: the loss times its weight, the weights, the examples.
typedef struct loss_sums {
    double sums[2];    // the loss times its weight, the weights
    int64_t examples;
} loss_sums;

static ds_status accumulate(ds_context *ctx, ds_task *t, ds_data_split s, size_t first, size_t count, size_t batch,
                            ds_arena *arena, ds_task_eval *e, loss_sums *ls) {
    const ds_task_family *f = t->family;
    ds_err *err = &ctx->err;
    if (count == 0) return DS_OK;
    const size_t bytes = f->batch_bytes(t, batch);
    void *buf = aligned_alloc(64, (bytes + 63) / 64 * 64);  // one packed batch, host
    size_t *idx = malloc(batch * sizeof *idx);
    ds_status st = buf && idx ? DS_OK : ds_err_set(err, DS_ERR_OOM, "evaluation: out of memory for a batch");
    for (size_t at = first; st == DS_OK && at < first + count; at += batch) {
        const size_t n = first + count - at < batch ? first + count - at : batch;
        for (size_t i = 0; i < n; i++) idx[i] = at + i;
        ds_batch_info info;
        if ((st = f->pack(t, s, idx, n, 0, buf, &info, err)) != DS_OK) break;
        double loss = NAN;
        if ((st = f->forward(ctx, t, buf, false, 0, NULL, arena, &loss)) != DS_OK) break;
        // A summed loss counts per example; a mean counts times its weight (a batch of weight 0, all
        // ignored, has the loss 0/0 and adds nothing).
        if (info.summed || info.weight > 0) ls->sums[0] += info.summed ? loss : loss * info.weight;
        ls->sums[1] += info.summed ? (double)info.n : info.weight;
        ls->examples += (int64_t)info.n;
        st = f->eval_add(ctx, t, e, buf);
    }
    free(idx);
    free(buf);
    return st;
}

ds_status ds_evaluate_split(ds_context *ctx, ds_task *t, ds_data_split s, size_t batch, ds_arena *arena,
                            const ds_collective *coll, const char *prefix, ds_eval_result *r) {
    const ds_task_family *f = t->family;
    ds_err *err = &ctx->err;
    memset(r, 0, sizeof *r);
    const int world = coll && coll->allreduce_sum ? coll->world : 1;
    const int rank = world > 1 ? coll->rank : 0;
    const size_t n = f->count(t, s);
    const size_t first = n * (size_t)rank / (size_t)world, stop = n * (size_t)(rank + 1) / (size_t)world;
    ds_task_eval *e = NULL;
    DS_TRY(f->eval_open(t, &e, err));
    loss_sums ls = {{0, 0}, 0};
    ds_status st = accumulate(ctx, t, s, first, stop - first, batch, arena, e, &ls);
    if (st == DS_OK && world > 1) {
        ds_metric_buffer bufs[MAX_BUFFERS];
        int nb = f->eval_buffers(e, bufs, MAX_BUFFERS - 2);
        bufs[nb++] = (ds_metric_buffer){ls.sums, DS_F64, 2};
        bufs[nb++] = (ds_metric_buffer){&ls.examples, DS_I64, 1};
        for (int i = 0; i < nb && st == DS_OK; i++)
            st = coll->allreduce_sum(coll->user, bufs[i].data, bufs[i].count, bufs[i].dtype, err);
    }
    if (st == DS_OK) {
        r->examples = ls.examples;
        r->loss = ls.sums[1] > 0 ? ls.sums[0] / ls.sums[1] : NAN;
        ds_eval_result_add(r, prefix, "loss", r->loss);
        st = f->eval_report(t, e, prefix, r, err);
    }
    f->eval_close(e);
    if (st != DS_OK) ds_eval_result_free(r);
    return st;
}
