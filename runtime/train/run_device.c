#include "run_device.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../kernels/cuda_info.h"
#include "../../kernels/gpu.h"
#include "../base/check.h"

ds_status ds_run_act_dtype(const ds_context *ctx, const ds_config *cfg, ds_dtype *act, ds_err *err) {
    const char *p = ds_config_str(cfg, "run.precision");
    const bool cuda = ctx->device.kind == DS_DEVICE_CUDA;
    if (strcmp(p, "fp32") == 0) {
        *act = DS_F32;
    } else if (strcmp(p, "bf16") == 0) {
        DS_REQUIRE(err, cuda, DS_ERR_CONFIG,
                   "run.precision bf16 needs a CUDA device, and this run is on the CPU (which computes in fp32 "
                   "only): use run.precision=fp32 or auto");
        *act = DS_BF16;
    } else {  // auto
        *act = cuda ? DS_BF16 : DS_F32;
    }
    return DS_OK;
}

// "cuda:N" -> N; -1 when `s` is not of that form.
static int parse_ordinal(const char *s) {
    if (strncmp(s, "cuda:", 5) != 0 || !s[5]) return -1;
    char *end = NULL;
    const long v = strtol(s + 5, &end, 10);
    return *end == '\0' && v >= 0 && v < 1024 ? (int)v : -1;
}

// The CPU, with the reason in the description.
static ds_status use_cpu(ds_context *ctx, const ds_config *cfg, const char *why, ds_run_device *out) {
    out->cuda = false;
    out->index = 0;
    ctx->device = (ds_device){DS_DEVICE_CPU, 0};
    DS_TRY(ds_run_act_dtype(ctx, cfg, &out->act, &ctx->err));
    snprintf(out->description, sizeof out->description, "cpu (%.*s)", (int)sizeof out->description - 8, why);
    DS_LOG_INFO(&ctx->log, "device: %s", out->description);
    return DS_OK;
}

ds_status ds_run_device_open(ds_context *ctx, const ds_config *cfg, const ds_world *world, ds_run_device *out) {
    ds_err *err = &ctx->err;
    memset(out, 0, sizeof *out);
    ctx->deterministic = ds_config_bool(cfg, "run.deterministic");
    const char *want = ds_config_str(cfg, "run.device");
    const bool is_auto = strcmp(want, "auto") == 0, is_cpu = strcmp(want, "cpu") == 0;
    const bool is_cuda = strcmp(want, "cuda") == 0;
    const int ordinal = parse_ordinal(want);
    DS_REQUIRE(err, is_auto || is_cpu || is_cuda || ordinal >= 0, DS_ERR_CONFIG,
               "run.device '%s': expected auto, cpu, cuda or cuda:N (N a device ordinal)", want);
    if (is_cpu) return use_cpu(ctx, cfg, "run.device=cpu", out);
    const char *backend = ds_config_str(cfg, "dist.backend");
    if (is_auto && world && (strcmp(backend, "mpi") == 0 || strcmp(backend, "tcp") == 0)) {
        // A host communicator cannot all-reduce device gradients (runtime/dist/grad_sync.c refuses it):
        // asked for explicitly, it decides the device.
        char reason[128];
        snprintf(reason, sizeof reason, "dist.backend=%s all-reduces host memory", backend);
        return use_cpu(ctx, cfg, reason, out);
    }
    char why[256] = "";
    const int count = ds_cuda_device_count(why, sizeof why);
    if (count == 0) {
        DS_REQUIRE(err, is_auto, DS_ERR_CUDA, "run.device %s: %s; use run.device=cpu (or auto, which falls back to the CPU)",
                   want, why);
        // `why` reads "no usable CUDA device: <the runtime's reason>", "the CUDA runtime reports no
        // devices", or "this build has no CUDA backend (...)".
        return use_cpu(ctx, cfg, why, out);
    }
    int index = 0;
    if (ordinal >= 0) {
        DS_REQUIRE(err, ordinal < count, DS_ERR_CONFIG, "run.device %s: this process sees %d CUDA device(s) (0 .. %d)",
                   want, count, count - 1);
        index = ordinal;
    } else if (world) {
        DS_TRY(ds_world_cuda_device(world, count, &index, err));
    }
    ds_gpu_options o = ds_gpu_options_default();
    o.device_index = index;
    o.kernels = strcmp(ds_config_str(cfg, "run.kernels"), "fast") == 0 ? DS_KERNELS_FAST : DS_KERNELS_PLAIN;
    o.attention = strcmp(ds_config_str(cfg, "run.attention"), "cudnn") == 0 ? DS_ATTENTION_CUDNN : DS_ATTENTION_OWN;
    const char *conv = ds_config_str(cfg, "run.conv");
    o.conv = strcmp(conv, "cudnn") == 0 ? DS_CONV_CUDNN : strcmp(conv, "auto") == 0 ? DS_CONV_AUTO : DS_CONV_OWN;
    o.ctc = strcmp(ds_config_str(cfg, "run.ctc"), "cudnn") == 0 ? DS_CTC_CUDNN : DS_CTC_OWN;
    // TF32 stays off: in fp32 mode every F32 GEMM is exact fp32 (the parity tests rely on it), and
    // in bf16 mode the GEMMs take bf16 operands, so TF32 would change nothing there.
    o.allow_tf32 = false;
    // ds_bert_forward validates ids and labels on the host before uploading them, so the ops'
    // device-side index checks (a stream synchronisation each, ~8 per step) are redundant.
    o.trusted_indices = true;
    if (ds_gpu_open(ctx, &o) != DS_OK) {
        if (!is_auto) return ctx->err.status;
        // auto: a device that is visible but cannot be opened (busy, broken driver) is a reason
        // to run on the CPU, said loudly.
        char reason[sizeof ctx->err.msg + 32];
        snprintf(reason, sizeof reason, "cuda:%d cannot be opened: %s", index, ctx->err.msg);
        ds_err_clear(err);
        DS_LOG_WARN(&ctx->log, "run.device auto: %s; falling back to the CPU", reason);
        return use_cpu(ctx, cfg, reason, out);
    }
    out->cuda = true;
    out->index = index;
    const ds_status st = ds_run_act_dtype(ctx, cfg, &out->act, err);
    if (st != DS_OK) {
        ds_gpu_close(ctx);
        return st;
    }
    char name[256] = "?";
    if (ds_cuda_device_name(index, name, sizeof name, err) != DS_OK) ds_err_clear(err);
    snprintf(out->description, sizeof out->description, "cuda:%d %s, %s, %s kernels, %s attention, %s conv, %s CTC%s%s",
             index,
             name, out->act == DS_BF16 ? "bf16 mixed precision" : "fp32 (TF32 off)",
             o.kernels == DS_KERNELS_FAST ? "fast" : "plain", o.attention == DS_ATTENTION_CUDNN ? "cuDNN" : "own",
             o.conv == DS_CONV_CUDNN ? "cuDNN" : o.conv == DS_CONV_AUTO ? "auto (own or cuDNN per shape)" : "own",
             o.ctc == DS_CTC_CUDNN ? "cuDNN" : "own",
             ctx->deterministic ? ", deterministic" : "", is_auto ? " (run.device=auto found a CUDA device)" : "");
    DS_LOG_INFO(&ctx->log, "device: %s", out->description);
    return DS_OK;
}

void ds_run_device_close(ds_context *ctx) {
    if (ctx && ctx->device.kind == DS_DEVICE_CUDA) ds_gpu_close(ctx);
}
