// `downstream bench` on a device: the whole BERT classifier's fine-tuning step (runtime/tasks/text/bench.h).
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../../kernels/gpu.h"
#include "../../../models/bert/bert.h"
#include "../../../models/common/device_memory.h"
#include "../../base/check.h"
#include "../../base/philox.h"
#include "bench.h"
#include "../../train/optim.h"

static int cmp_double(const void *x, const void *y) {
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

double ds_bench_bert_step_flops(const ds_bench_bert_opts *o) {
    const double B = (double)o->batch, T = (double)o->seq_len, L = (double)o->layers, H = (double)o->hidden,
                 I = (double)o->intermediate, C = (double)o->num_labels;
    const double forward = 2.0 * B * T * L * (4.0 * H * H + 2.0 * H * I) + 4.0 * L * B * T * T * H +
                           2.0 * B * (H * H + H * C);
    return 3.0 * forward;
}

// The host batch: token ids uniform in [1, vocab) (0 is [PAD]), labels uniform in [0, C).
typedef struct host_batch {
    int32_t *ids;     // (B, T) host
    int32_t *labels;  // (B) host
} host_batch;

static ds_status make_batch(ds_context *ctx, const ds_bench_bert_opts *o, host_batch *hb, ds_bert_batch *b) {
    const int64_t N = o->batch * o->seq_len;
    hb->ids = malloc((size_t)N * sizeof *hb->ids);
    hb->labels = malloc((size_t)o->batch * sizeof *hb->labels);
    DS_REQUIRE(&ctx->err, hb->ids && hb->labels, DS_ERR_OOM, "bench: out of host memory for the batch");
    for (int64_t i = 0; i < N; i++)
        hb->ids[i] = 1 + (int32_t)(ds_philox_uniform(ctx->seed, 201, (uint64_t)i) * (float)(o->vocab - 1)) %
                             (int32_t)(o->vocab - 1);
    for (int64_t i = 0; i < o->batch; i++)
        hb->labels[i] = (int32_t)(ds_philox_uniform(ctx->seed, 202, (uint64_t)i) * (float)o->num_labels) %
                        (int32_t)o->num_labels;
    *b = (ds_bert_batch){.B = o->batch, .T = o->seq_len, .input_ids = hb->ids, .labels = hb->labels};
    return DS_OK;
}

static ds_status wait_device(ds_context *ctx) {
    return ctx->device.kind == DS_DEVICE_CUDA ? ds_gpu_sync(ctx) : DS_OK;
}

// One step as the trainer runs it (the loss left on the device by the forward and read after the
// optimizer step); ends with the device idle, so that wall time is step time.
static ds_status step(ds_context *ctx, ds_bert_model *m, ds_optim *opt, ds_arena *arena, const ds_bert_batch *b,
                      uint64_t i, double *loss) {
    ds_tensor term;  // (1) F32 on the model's device
    DS_TRY(ds_bert_forward_train(ctx, m, b, i, arena, &term));
    DS_TRY(ds_bert_backward(ctx, m, 1.0, arena));
    DS_TRY(ds_optim_step(ctx, opt, &m->params, 2e-5, 1.0, NULL));
    DS_TRY(ds_bert_zero_grads(m));
    float value = NAN;
    DS_TRY(ds_tensor_to_host(ctx, &value, &term));
    *loss = value;
    return wait_device(ctx);
}

ds_status ds_bench_bert_run(ds_context *ctx, const ds_bench_bert_opts *o, double process_start_s,
                            ds_bench_bert_result *r) {
    ds_err *err = &ctx->err;
    memset(r, 0, sizeof *r);
    DS_REQUIRE(err, o->batch >= 1 && o->seq_len >= 1 && o->repeats >= 1 && o->warmup >= 0 && o->vocab >= 2,
               DS_ERR_INVALID_ARG, "bench: batch, seq_len, repeats must be >= 1, warmup >= 0, vocab >= 2");
    const ds_bert_config cfg = {
        .vocab_size = o->vocab, .hidden = o->hidden, .layers = o->layers, .heads = o->heads,
        .intermediate = o->intermediate, .max_position = o->seq_len > 512 ? o->seq_len : 512, .type_vocab = 2,
        .ln_eps = 1e-12, .hidden_dropout = 0.1f, .attn_dropout = 0.1f, .classifier_dropout = -1,
        .initializer_range = 0.02, .num_labels = o->num_labels, .problem_type = DS_PROBLEM_SINGLE_LABEL,
        .pad_token_id = 0,
    };
    ds_bert_model m;
    ds_optim opt;
    memset(&opt, 0, sizeof opt);
    ds_arena arena = {0};
    host_batch hb = {0};
    double *times = malloc(sizeof(double) * (size_t)o->repeats);  // (repeats) host
    ds_status st = times ? DS_OK : ds_err_set(err, DS_ERR_OOM, "bench: out of host memory");
    bool created = false;
    if (st == DS_OK) st = ds_bert_create(ctx, &cfg, &m);
    created = st == DS_OK;
    if (st == DS_OK) {
        ds_bert_init_weights(ctx, &m);  // on the host, then uploaded: part of first_step_s, as torch's init
        st = ds_bert_to_device(ctx, &m, o->act);
    }
    ds_optim_options oo = ds_optim_options_default();
    oo.weight_decay = 0.01;
    if (st == DS_OK) st = ds_optim_init(&opt, &m.params, &oo, err);
    if (st == DS_OK) st = ds_optim_to_device(ctx, &opt, &m.params);
    size_t planned = 0;
    if (st == DS_OK) st = ds_bert_arena_bytes(ctx, &m, o->batch, o->seq_len, true, &planned);
    if (st == DS_OK) st = ds_arena_init_for(ctx, &arena, planned);
    ds_bert_batch batch;
    if (st == DS_OK) st = make_batch(ctx, o, &hb, &batch);
    for (int i = 0; st == DS_OK && i < o->warmup + o->repeats; i++) {
        const double t0 = ds_now_seconds();
        st = step(ctx, &m, &opt, &arena, &batch, (uint64_t)i, &r->last_loss);
        const double t1 = ds_now_seconds();
        if (i == 0) r->first_step_s = t1 - process_start_s;
        if (i >= o->warmup) times[i - o->warmup] = t1 - t0;
    }
    if (st == DS_OK) {
        qsort(times, (size_t)o->repeats, sizeof(double), cmp_double);
        const double med = times[o->repeats / 2];
        const int p90 = (int)ceil(0.9 * o->repeats) - 1;
        r->step_ms_median = 1e3 * med;
        r->step_ms_p90 = 1e3 * times[p90 < 0 ? 0 : p90];
        r->samples_per_s = (double)o->batch / med;
        r->tokens_per_s = (double)(o->batch * o->seq_len) / med;
        r->flops_per_step = ds_bench_bert_step_flops(o);
        r->achieved_flops = r->flops_per_step / med;
        r->params = (int64_t)ds_param_block_numel(&m.params);
        r->arena_bytes = planned;
        r->peak_mem_bytes = ctx->device.kind == DS_DEVICE_CUDA ? ds_gpu_peak_bytes(ctx)
                                                               : 4 * m.params.total * sizeof(float) + planned;
        if (!isfinite(r->last_loss))
            st = ds_err_set(err, DS_ERR_NUMERIC, "bench: the loss of the last step is %g", r->last_loss);
    }
    ds_arena_free(&arena);
    ds_optim_free(&opt);
    if (created) ds_bert_free(&m);
    free(hb.ids), free(hb.labels), free(times);
    return st;
}
