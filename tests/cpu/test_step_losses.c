// The trainer's step losses (runtime/train/step_losses) and the one formula of a ds_task_loss
// (runtime/tasks/task_loss): terms staged from memory the next forward overwrites, combined in
// double in order and rounded to F32 when asked, exactly as the families computed the loss on
// the host before (DeepLabV3: (float)(CE(out) + aux_weight x CE(aux)); Wav2Vec2: the F32 CTC loss);
// host values pass through; the capacity and malformed terms are refused.
#include <math.h>
#include <string.h>

#include "../../runtime/tasks/task_loss.h"
#include "../../runtime/train/step_losses.h"
#include "../test_util.h"

static ds_tensor scalar(float *v) {
    const int64_t one = 1;
    return ds_tensor_make(v, DS_F32, (ds_device){DS_DEVICE_CPU, 0}, 1, &one);
}

int main(void) {
    ds_test t = ds_test_begin("step_losses");
    ds_context ctx = ds_context_cpu();
    ds_step_losses s;
    ds_test_check(&t, ds_step_losses_init(&ctx, &s, 3) == DS_OK, "init: %s", ctx.err.msg);

    // Micro-batch 0: DeepLabV3 with the aux head. 1/3 is not a float: the sum in double, then the
    // rounding, must give the bits of the old host formula.
    float ce = 1.0f / 3.0f, aux = 2.0f / 7.0f;
    const float aux_weight = 0.5f;
    const ds_task_loss seg = {.count = 2, .term = {scalar(&ce), scalar(&aux)}, .coef = {1.0, (double)aux_weight},
                              .round_f32 = true};
    const double want_seg = (double)(float)((double)ce + (double)aux_weight * aux);
    // Micro-batch 1: a host value (a family without forward_train). Micro-batch 2: no rounding.
    const ds_task_loss host = {.value = 0.123456789012345};
    float ctc = 5.5f;
    const ds_task_loss raw = {.count = 1, .term = {scalar(&ctc)}, .coef = {0.25}};
    ds_test_check(&t, ds_step_losses_add(&ctx, &s, &seg) == DS_OK && ds_step_losses_add(&ctx, &s, &host) == DS_OK &&
                          ds_step_losses_add(&ctx, &s, &raw) == DS_OK && s.n == 3,
                  "add: %s", ctx.err.msg);
    // The next forward reuses the arena: the staged copies must not follow.
    ce = aux = ctc = NAN;
    ds_test_check(&t, ds_step_losses_resolve(&ctx, &s) == DS_OK, "resolve: %s", ctx.err.msg);
    ds_test_check(&t, memcmp(&s.value[0], &want_seg, sizeof want_seg) == 0, "deeplab loss %.17g, want %.17g",
                  s.value[0], want_seg);
    ds_test_check(&t, s.value[1] == host.value, "host value %.17g, want %.17g", s.value[1], host.value);
    ds_test_check(&t, s.value[2] == 0.25 * 5.5, "coef x term %.17g, want 1.375", s.value[2]);

    // ds_task_loss_to_host (the families' own forward) gives the same bits.
    float ce2 = 1.0f / 3.0f, aux2 = 2.0f / 7.0f;
    ds_task_loss again = seg;
    again.term[0] = scalar(&ce2), again.term[1] = scalar(&aux2);
    double direct = 0;
    const ds_status st = ds_task_loss_to_host(&ctx, &again, &direct);
    ds_test_check(&t, st == DS_OK && memcmp(&direct, &want_seg, sizeof direct) == 0, "to_host %.17g, want %.17g",
                  direct, want_seg);

    // Full: a fourth micro-batch is refused; a reset starts over.
    ds_test_check(&t, ds_step_losses_add(&ctx, &s, &host) == DS_ERR_INTERNAL && strstr(ctx.err.msg, "more than 3"),
                  "capacity: %s", ctx.err.msg);
    ds_err_clear(&ctx.err);
    ds_step_losses_reset(&s);
    ds_test_check(&t, ds_step_losses_add(&ctx, &s, &host) == DS_OK && s.n == 1, "after reset: %s",
                  ctx.err.msg);
    // A term that is not one F32 value, or too many terms.
    double wide = 1.0;
    const int64_t one = 1;
    ds_task_loss bad = {.count = 1, .term = {ds_tensor_make(&wide, DS_F64, (ds_device){DS_DEVICE_CPU, 0}, 1, &one)},
                        .coef = {1.0}};
    ds_test_check(&t, ds_step_losses_add(&ctx, &s, &bad) == DS_ERR_INTERNAL && strstr(ctx.err.msg, "F32"),
                  "F64 term: %s", ctx.err.msg);
    ds_err_clear(&ctx.err);
    bad.count = DS_TASK_LOSS_TERMS + 1;
    ds_test_check(&t, ds_step_losses_add(&ctx, &s, &bad) == DS_ERR_INTERNAL, "too many terms accepted");
    ds_err_clear(&ctx.err);
    ds_step_losses_free(&s);
    ds_step_losses_free(&s);  // idempotent
    return ds_test_finish(&t);
}
