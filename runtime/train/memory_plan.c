// The memory plan, made once for the largest shape (train.batch_size of the family's largest
// example) and allocated at start: nothing is allocated per step. On CUDA: the fp32 parameter and
// gradient blocks, the optimizer state (AdamW's two moments or SGD's momentum buffer, over the
// trainable range), the decay mask, the bf16 working copy (bf16 mode), the activation arena (whose
// plan covers forward, backward and every smaller batch; evaluation reuses it) and the device's own
// workspaces (cuBLASLt, reduction scratch: counted from ds_gpu_open). Activation recomputation is
// not implemented: every activation of a step stays resident.
#include "../../kernels/gpu.h"
#include "../../models/common/device_memory.h"
#include "../base/check.h"
#include "run_device.h"
#include "trainer_internal.h"

typedef struct memory_plan {
    size_t params, grads, optim, mask, bf16, arena, workspaces, total;
} memory_plan;

static void log_plan(ds_context *ctx, const memory_plan *p, const char *where, const char *optim_what) {
    const double MiB = 1048576.0;
    const struct {
        const char *what;
        size_t bytes;
    } rows[] = {{"parameters (fp32 master)", p->params}, {"gradients (fp32)", p->grads}, {optim_what, p->optim},
                {"weight-decay mask (u8)", p->mask}, {"bf16 parameter copy", p->bf16}, {"activation arena", p->arena},
                {"workspaces (cuBLASLt, scratch)", p->workspaces}, {"total", p->total}};
    DS_LOG_INFO(&ctx->log, "memory plan (%s memory, allocated once at start):", where);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i].bytes > 0 || i < 3)  // device-only rows (mask, bf16 copy, workspaces) when present
            DS_LOG_INFO(&ctx->log, "  %-32s %10.1f MiB", rows[i].what, rows[i].bytes / MiB);
}

ds_status ds_trainer_place_and_plan(trainer *t) {
    ds_context *ctx = t->ctx;
    ds_err *err = &ctx->err;
    const bool cuda = ctx->device.kind == DS_DEVICE_CUDA;
    ds_dtype act = DS_F32;
    DS_TRY(ds_run_act_dtype(ctx, t->cfg, &act, err));
    memory_plan p = {0};
    const size_t n = t->pb->total, trainable = t->optim.total;
    p.params = p.grads = n * sizeof(float);
    p.optim = (size_t)t->optim.nstates * trainable * sizeof(float);
    // The arena plan depends on where and in what precision the model runs: move it first (on the
    // CPU nothing moves), then measure.
    DS_TRY(t->family->to_device(ctx, t->task, act));
    DS_TRY(t->family->arena_bytes(ctx, t->task, t->batch, true, &p.arena));
    if (cuda) {
        p.mask = trainable;
        p.bf16 = act == DS_BF16 ? n * sizeof(uint16_t) : 0;
        p.workspaces = ds_gpu_peak_bytes(ctx);  // what ds_gpu_open holds: cuBLASLt workspace, scratch
    }
    p.total = p.params + p.grads + p.optim + p.mask + p.bf16 + p.arena + p.workspaces;
    const char *optim_what = t->optim.options.kind == DS_OPTIM_SGD ? "SGD momentum buffer (fp32)"
                                                                    : "AdamW moments (fp32 m, v)";
    if (cuda) {
        size_t free_b = 0, total_b = 0;
        DS_TRY(ds_gpu_mem_info(ctx, &free_b, &total_b));
        const size_t need = p.optim + p.mask + p.arena;  // the model and the workspaces are on the device already
        if (need > free_b) {
            log_plan(ctx, &p, "device", optim_what);
            return ds_err_set(err, DS_ERR_OOM,
                              "the training state needs %.1f MiB more device memory (%zu bytes) but cuda:%d has %.1f "
                              "MiB free of %.1f MiB: the activations take %.1f MiB for batch %zu; lower "
                              "train.batch_size (and raise train.grad_accum to keep the effective batch)%s",
                              need / 1048576.0, need, ctx->device.index, free_b / 1048576.0, total_b / 1048576.0,
                              p.arena / 1048576.0, t->batch,
                              act == DS_BF16 ? "" : ", or use run.precision=bf16 (half the activation memory)");
        }
    }
    DS_TRY(ds_optim_to_device(ctx, &t->optim, t->pb));
    DS_TRY(ds_arena_init_for(ctx, &t->arena, p.arena));
    log_plan(ctx, &p, cuda ? "device" : "host", optim_what);
    if (cuda)
        DS_LOG_INFO(&ctx->log, "device memory: peak of live allocations %.1f MiB (the plan's total; nothing more is "
                               "allocated per step)", ds_gpu_peak_bytes(ctx) / 1048576.0);
    return DS_OK;
}
