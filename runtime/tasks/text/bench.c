#include "bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../base/check.h"
#include "../../base/philox.h"
#include "../../../models/common/device_memory.h"

static int cmp_double(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

// HF-style initialisation for a throughput run: weights ~ U(-0.035, 0.035) (std 0.02), biases 0,
// LayerNorm weights 1. The values only need to be realistic in scale.
static void init_params(ds_param_block *pb, uint64_t seed) {
    for (int i = 0; i < pb->count; i++) {
        ds_tensor t = ds_param_block_param(pb, i);
        float *p = t.data;  // (numel) host
        const int64_t n = ds_tensor_numel(&t);
        const int is_norm = strstr(pb->specs[i].name, "LayerNorm.weight") != NULL;
        for (int64_t j = 0; j < n; j++)
            p[j] = pb->specs[i].ndim == 2 ? 0.07f * (ds_philox_uniform(seed, (uint64_t)i, (uint64_t)j) - 0.5f)
                                          : (is_norm ? 1.0f : 0.0f);
    }
}

typedef struct bench_state {
    const ds_bench_opts *o;
    ds_param_block pb;
    float *m, *v;              // (pb.total) AdamW moments, host
    ds_tensor x, dy, mask;     // (B*T, H) input, (B*T, H) upstream gradient, (B, T) I32
    ds_bert_layer_acts *acts;  // [layers]
} bench_state;

// One step: forward through every layer, backward from dy, AdamW per parameter tensor.
static ds_status step(ds_context *ctx, bench_state *s, ds_arena *arena, int64_t step_no) {
    const ds_bench_opts *o = s->o;
    ds_arena_reset(arena);
    DS_TRY(ds_param_block_zero_grads(ctx, &s->pb));
    const ds_tensor *in = &s->x;
    for (int64_t l = 0; l < o->layers; l++) {
        DS_TRY(ds_bert_layer_forward(ctx, &o->dims, &s->pb, (int)(l * DS_BL_PARAM_COUNT), in, &s->mask, o->batch,
                                     o->seq_len, (uint64_t)(step_no * o->layers + l) * 3, arena, &s->acts[l]));
        in = &s->acts[l].y;
    }
    ds_tensor dy = s->dy, dx;
    for (int64_t l = o->layers - 1; l >= 0; l--) {
        const int64_t shape[] = {o->batch * o->seq_len, o->dims.hidden};
        DS_TRY(ds_arena_tensor(arena, DS_F32, 2, shape, &dx, &ctx->err));
        DS_TRY(ds_bert_layer_backward(ctx, &o->dims, &s->pb, (int)(l * DS_BL_PARAM_COUNT), &s->acts[l], &s->mask,
                                      &dy, l > 0 ? &dx : NULL, (uint64_t)(step_no * o->layers + l) * 3, arena));
        dy = dx;
    }
    if (arena->measuring) return DS_OK;
    for (int i = 0; i < s->pb.count; i++) {
        const ds_tensor p = ds_param_block_param(&s->pb, i);
        const int64_t n = ds_tensor_numel(&p);
        ds_adamw_args a = {.param = p, .grad = ds_param_block_grad(&s->pb, i),
                           .m = ds_tensor_cpu1(s->m + s->pb.offset[i], DS_F32, n),
                           .v = ds_tensor_cpu1(s->v + s->pb.offset[i], DS_F32, n), .lr = 2e-5, .beta1 = 0.9,
                           .beta2 = 0.999, .eps = 1e-8, .weight_decay = s->pb.specs[i].decay ? 0.01 : 0.0,
                           .grad_scale = 1.0, .step = step_no + 1};
        DS_TRY(ds_adamw_step(ctx, &a));
    }
    return DS_OK;
}

ds_status ds_bench_run(ds_context *ctx, const ds_bench_opts *o, double process_start_s, ds_bench_result *r) {
    ds_err *err = &ctx->err;
    memset(r, 0, sizeof *r);
    DS_REQUIRE(err, o->layers >= 1 && o->batch >= 1 && o->seq_len >= 1 && o->repeats >= 1 && o->warmup >= 0,
               DS_ERR_INVALID_ARG, "bench: layers, batch, seq_len and repeats must be >= 1 and warmup >= 0");
    const int64_t N = o->batch * o->seq_len, H = o->dims.hidden;
    bench_state s = {.o = o};
    int nspec = 0;
    ds_param_spec *specs = calloc((size_t)(o->layers * DS_BL_PARAM_COUNT), sizeof *specs);
    float *x = malloc(sizeof(float) * (size_t)(N * H)), *dy = malloc(sizeof(float) * (size_t)(N * H));
    int32_t *mask = malloc(sizeof(int32_t) * (size_t)N);
    double *times = malloc(sizeof(double) * (size_t)o->repeats);
    s.acts = calloc((size_t)o->layers, sizeof *s.acts);
    ds_arena arena = ds_arena_measure();
    ds_status st = DS_OK;
    if (!specs || !x || !dy || !mask || !times || !s.acts) {
        st = ds_err_set(err, DS_ERR_OOM, "bench: out of host memory for inputs");
        goto done;
    }
    for (int64_t l = 0; l < o->layers; l++) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "encoder.layer.%lld.", (long long)l);
        ds_bert_layer_specs(&o->dims, prefix, specs, &nspec);
    }
    if ((st = ds_param_block_init(&s.pb, specs, nspec, err)) != DS_OK) goto done;
    init_params(&s.pb, ctx->seed);
    s.m = calloc(s.pb.total, sizeof(float));
    s.v = calloc(s.pb.total, sizeof(float));
    if (!s.m || !s.v) {
        st = ds_err_set(err, DS_ERR_OOM, "bench: out of host memory for AdamW moments");
        goto done;
    }
    for (int64_t i = 0; i < N * H; i++) {
        x[i] = 2.0f * ds_philox_uniform(ctx->seed, 101, (uint64_t)i) - 1.0f;
        dy[i] = (2.0f * ds_philox_uniform(ctx->seed, 102, (uint64_t)i) - 1.0f) / (float)N;
    }
    // Every other sequence is padded over its last eighth, as a length-bucketed batch would be.
    for (int64_t b = 0; b < o->batch; b++)
        for (int64_t t = 0; t < o->seq_len; t++)
            mask[b * o->seq_len + t] = !(b % 2 == 1 && t >= o->seq_len - o->seq_len / 8);
    s.x = ds_tensor_cpu2(x, DS_F32, N, H);
    s.dy = ds_tensor_cpu2(dy, DS_F32, N, H);
    s.mask = ds_tensor_cpu2(mask, DS_I32, o->batch, o->seq_len);

    // Plan the arena once for this (batch, length) with a measuring pass, then allocate it.
    if ((st = step(ctx, &s, &arena, 0)) != DS_OK) goto done;
    const size_t planned = arena.peak;
    if ((st = ds_arena_init_cpu(&arena, planned, err)) != DS_OK) goto done;
    r->arena_bytes = planned;

    for (int i = 0; i < o->warmup + o->repeats; i++) {
        const double t0 = ds_now_seconds();
        if ((st = step(ctx, &s, &arena, i)) != DS_OK) goto done;
        const double t1 = ds_now_seconds();
        if (i == 0) r->first_step_s = t1 - process_start_s;
        if (i >= o->warmup) times[i - o->warmup] = t1 - t0;
    }
    qsort(times, (size_t)o->repeats, sizeof(double), cmp_double);
    const double med = times[o->repeats / 2];
    const int p90 = (int)ceil(0.9 * o->repeats) - 1;
    r->step_ms_median = 1e3 * med;
    r->step_ms_p90 = 1e3 * times[p90 < 0 ? 0 : p90];
    r->samples_per_s = (double)o->batch / med;
    r->tokens_per_s = (double)N / med;
    r->model_gflops_per_step = 3.0 * (double)o->layers * ds_bert_layer_forward_flops(&o->dims, o->batch, o->seq_len) / 1e9;
    r->achieved_gflops = r->model_gflops_per_step / med;
    r->params = (int64_t)ds_param_block_numel(&s.pb);
    r->peak_mem_bytes = 4 * s.pb.total * sizeof(float) + planned;  // params, grads, m, v + activations

done:
    ds_arena_free(&arena);
    ds_param_block_free(&s.pb);
    free(s.m), free(s.v), free(s.acts), free(specs), free(x), free(dy), free(mask), free(times);
    return st;
}
