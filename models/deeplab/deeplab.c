// DeepLabV3: configuration, parameter layout, creation and initial values. The passes are in
// deeplab_pass.c, the batch checks in deeplab_batch.c, checkpoint shape inference in
// deeplab_infer.c.
#include "deeplab.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "../common/device_memory.h"
#include "../common/param_init.h"
#include "deeplab_internal.h"

enum { SITE_BITS = 20 };

uint64_t ds_deeplab_dropout_offset(uint64_t rng_step, uint64_t site) { return (rng_step << SITE_BITS) + site; }

ds_deeplab_config ds_deeplab_config_default(void) {
    return (ds_deeplab_config){.depth = 50, .num_classes = 21, .aux = true, .width = 64, .frozen_bn = false,
                               .aux_weight = 0.5f, .aux_lr_mult = 10.0f, .dropout = 0.5f, .aux_dropout = 0.1f,
                               .ignore_index = 255, .bn_eps = 1e-5, .bn_momentum = 0.1};
}

ds_status ds_deeplab_check_config(const ds_deeplab_config *c, ds_err *err) {
    DS_REQUIRE(err, c->depth == 50 || c->depth == 101, DS_ERR_INVALID_ARG,
               "deeplab config: depth = %d must be 50 or 101 (ResNet-50 or ResNet-101 backbone)", c->depth);
    DS_REQUIRE(err, c->num_classes >= 1 && c->num_classes <= INT32_MAX, DS_ERR_INVALID_ARG,
               "deeplab config: num_classes = %lld must lie in [1, 2^31)", (long long)c->num_classes);
    DS_REQUIRE(err, c->width >= 1 && c->width <= 4096, DS_ERR_INVALID_ARG,
               "deeplab config: width = %lld must lie in [1, 4096] (64 is torchvision's)", (long long)c->width);
    DS_REQUIRE(err, c->dropout >= 0 && c->dropout < 1, DS_ERR_INVALID_ARG,
               "deeplab config: dropout = %g must lie in [0, 1)", (double)c->dropout);
    DS_REQUIRE(err, c->aux_dropout >= 0 && c->aux_dropout < 1, DS_ERR_INVALID_ARG,
               "deeplab config: aux_dropout = %g must lie in [0, 1)", (double)c->aux_dropout);
    DS_REQUIRE(err, isfinite(c->aux_weight) && c->aux_weight >= 0, DS_ERR_INVALID_ARG,
               "deeplab config: aux_weight = %g must be >= 0", (double)c->aux_weight);
    DS_REQUIRE(err, isfinite(c->aux_lr_mult) && c->aux_lr_mult > 0, DS_ERR_INVALID_ARG,
               "deeplab config: aux_lr_mult = %g must be > 0", (double)c->aux_lr_mult);
    DS_REQUIRE(err, c->bn_eps > 0 && isfinite(c->bn_eps), DS_ERR_INVALID_ARG,
               "deeplab config: bn_eps = %g must be > 0", c->bn_eps);
    DS_REQUIRE(err, c->bn_momentum >= 0 && c->bn_momentum <= 1, DS_ERR_INVALID_ARG,
               "deeplab config: bn_momentum = %g must lie in [0, 1]", c->bn_momentum);
    DS_REQUIRE(err, c->ignore_index < 0 || c->ignore_index >= c->num_classes, DS_ERR_INVALID_ARG,
               "deeplab config: ignore_index = %d is a class of [0, %lld); pick a value outside (255 is usual)",
               c->ignore_index, (long long)c->num_classes);
    return DS_OK;
}

int ds_deeplab_spec_capacity(const ds_deeplab_config *cfg) {
    return ds_resnet_spec_count(cfg->depth) + DS_DEEPLAB_HEAD_SPECS + DS_FCN_HEAD_SPECS;
}

ds_status ds_deeplab_layout(ds_deeplab_model *m, ds_param_spec *specs, int *count, ds_err *err) {
    const ds_deeplab_config *c = &m->cfg;
    const ds_conv_bn_spec_opts opts = {.bn = true, .frozen_bn = c->frozen_bn, .lr_mult = 1};
    DS_TRY(ds_resnet_init(&m->backbone, c->depth, c->width, &opts, "backbone.", specs, count, err));
    // torchvision: layer4 gives 2048 = 32 * 64 channels, layer3 1024; ASPP and FCN inner 256 = 4 * 64.
    const int64_t w = c->width;
    m->first_classifier_param = *count;
    ds_deeplab_head_init(&m->head, 32 * w, 4 * w, c->num_classes, c->dropout, &opts, "classifier.", specs, count);
    m->first_aux_param = -1;
    if (c->aux) {
        m->first_aux_param = *count;
        ds_conv_bn_spec_opts aux_opts = opts;
        aux_opts.lr_mult = c->aux_lr_mult;
        ds_fcn_head_init(&m->auxh, 16 * w, c->num_classes, c->aux_dropout, &aux_opts, "aux_classifier.", specs, count);
    }
    return DS_OK;
}

int ds_deeplab_units(const ds_deeplab_model *m, const ds_conv_bn **units, bool *backbone, int cap) {
    int n = 0;
#define PUSH(u, bb)                  \
    do {                             \
        if (n < cap) {               \
            units[n] = (u);          \
            backbone[n] = (bb);      \
        }                            \
        n++;                         \
    } while (0)
    const ds_resnet *r = &m->backbone;
    PUSH(&r->stem, true);
    for (int i = 0; i < r->count; i++) {
        PUSH(&r->block[i].c1, true);
        PUSH(&r->block[i].c2, true);
        PUSH(&r->block[i].c3, true);
        if (r->block[i].has_down) PUSH(&r->block[i].down, true);
    }
    for (int i = 0; i < 5; i++) PUSH(&m->head.aspp[i], false);
    PUSH(&m->head.project, false);
    PUSH(&m->head.conv, false);
    PUSH(&m->head.cls, false);
    if (m->cfg.aux) {
        PUSH(&m->auxh.conv, false);
        PUSH(&m->auxh.cls, false);
    }
#undef PUSH
    return n;
}

ds_status ds_deeplab_create(ds_context *ctx, const ds_deeplab_config *cfg, ds_deeplab_model *m) {
    memset(m, 0, sizeof *m);
    DS_TRY(ds_deeplab_check_config(cfg, &ctx->err));
    m->cfg = *cfg;
    const int cap = ds_deeplab_spec_capacity(cfg);
    ds_param_spec *specs = calloc((size_t)cap, sizeof *specs);
    DS_REQUIRE(&ctx->err, specs != NULL, DS_ERR_OOM, "deeplab: out of memory for %d parameter specs", cap);
    int n = 0;
    ds_status s = ds_deeplab_layout(m, specs, &n, &ctx->err);
    if (s == DS_OK) s = ds_param_block_init(&m->params, specs, n, &ctx->err);
    free(specs);
    if (s == DS_OK) {
        m->saved.backbone.block = calloc((size_t)m->backbone.count, sizeof *m->saved.backbone.block);
        if (!m->saved.backbone.block) s = ds_err_set(&ctx->err, DS_ERR_OOM, "deeplab: out of memory");
    }
    if (s != DS_OK) ds_deeplab_free(m);
    return s;
}

ds_status ds_deeplab_to_device(ds_context *ctx, ds_deeplab_model *m, ds_dtype act) {
    DS_REQUIRE(&ctx->err, act == DS_F32 || act == DS_BF16, DS_ERR_INVALID_ARG,
               "deeplab: activations must be F32 or BF16, not %s", ds_dtype_name(act));
    DS_REQUIRE(&ctx->err, act == DS_F32 || ctx->device.kind == DS_DEVICE_CUDA, DS_ERR_INVALID_ARG,
               "deeplab: bf16 activations need a CUDA device (the CPU backend computes in fp32)");
    DS_TRY(ds_param_block_to_device(ctx, &m->params, act == DS_BF16));
    m->act_dtype = act;
    return DS_OK;
}

void ds_deeplab_free(ds_deeplab_model *m) {
    free(m->host_out);
    ds_param_block_free(&m->params);
    ds_resnet_free(&m->backbone);
    free(m->saved.backbone.block);
    memset(m, 0, sizeof *m);
}

// Initial values of one conv unit's tensors (see ds_deeplab_init_param).
static void init_unit(const ds_context *ctx, ds_deeplab_model *m, const ds_conv_bn *u, bool backbone, int i) {
    const ds_tensor p = ds_param_block_param(&m->params, i);
    const int64_t n = ds_tensor_numel(&p);
    const uint64_t offset = DS_DEEPLAB_INIT_OFFSET + (uint64_t)i;
    const int groups = u->geom.groups ? u->geom.groups : 1;
    if (i == u->w || i == u->b) {
        float *x = p.data;  // (numel) F32 host
        if (backbone && i == u->w) {
            ds_init_normal(x, n, sqrt(2.0 / (double)(u->cout * u->kh * u->kw)), ctx->seed, offset);
        } else {
            const double bound = 1.0 / sqrt((double)(u->cin / groups * u->kh * u->kw));
            ds_init_uniform(x, n, -bound, bound, ctx->seed, offset);
        }
        return;
    }
    const int k = i - u->bn;  // weight, bias, running_mean, running_var, num_batches_tracked
    if (k == 4) {
        *(int64_t *)p.data = 0;
        return;
    }
    ds_init_fill(p.data, n, k == 0 || k == 3 ? 1.0f : 0.0f);
}

void ds_deeplab_init_param(const ds_context *ctx, ds_deeplab_model *m, int i) {
    const ds_conv_bn *units[1024];
    bool backbone[1024];
    const int n = ds_deeplab_units(m, units, backbone, 1024);
    for (int k = 0; k < n && k < 1024; k++) {
        const ds_conv_bn *u = units[k];
        if (i == u->w || i == u->b || (u->bn >= 0 && i >= u->bn && i < u->bn + 5)) {
            init_unit(ctx, m, u, backbone[k], i);
            return;
        }
    }
}

void ds_deeplab_init_weights(const ds_context *ctx, ds_deeplab_model *m) {
    for (int i = 0; i < m->params.count; i++) ds_deeplab_init_param(ctx, m, i);
}

ds_status ds_deeplab_zero_grads(ds_deeplab_model *m) {
    if (m->params.device.kind == DS_DEVICE_CPU) {
        memset(m->params.grads, 0, m->params.total * sizeof(float));
        return DS_OK;
    }
    return ds_param_block_zero_grads((ds_context *)m->params.dev_owner, &m->params);
}
