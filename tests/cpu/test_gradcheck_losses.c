// Finite-difference checks of the pointwise losses' backward (BCE with logits, MSE) in double
// precision: the op's dx for dloss = 1 must match central differences of the scalar loss with
// respect to every input element. Logits span [-6, 6) so that both sides of sigmoid are probed;
// BCE is also checked with soft targets, and with dloss != 1 for the scaling.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../../kernels/ops.h"
#include "../gradcheck.h"

// Central differences in double with h = 1e-6 err near 1e-9 relative (see gradcheck.h); 1e-6
// leaves a wide margin, while a wrong formula misses by orders of magnitude.
#define H 1e-6
#define TOL 1e-6
#define PROBES 200  // every element

enum { N = 5, C = 7, NC = N * C };
typedef ds_status (*fwd_fn)(ds_context *, const ds_pointwise_loss_fwd_args *);
typedef ds_status (*bwd_fn)(ds_context *, const ds_pointwise_loss_bwd_args *);
typedef struct { ds_context *ctx; fwd_fn fwd; double *x, *target, scale; } loss_case;

static double loss_of(void *user) {
    loss_case *c = user;
    double loss = NAN;
    ds_pointwise_loss_fwd_args a = {.x = ds_tensor_cpu2(c->x, DS_F64, N, C), .target = ds_tensor_cpu2(c->target, DS_F64, N, C),
                                    .loss = ds_tensor_cpu1(&loss, DS_F64, 1)};
    if (c->fwd(c->ctx, &a) != DS_OK) return NAN;
    return c->scale * loss;
}

static void check(ds_test *t, ds_context *ctx, const char *what, fwd_fn fwd, bwd_fn bwd, bool hard_targets,
                  double dloss) {
    double x[NC], target[NC], dx[NC];
    ds_fill_uniform_f64(x, NC, 51);
    ds_fill_uniform_f64(target, NC, 52);
    for (int i = 0; i < NC; i++) {
        x[i] *= 6;
        target[i] = hard_targets ? (target[i] > 0) : 0.5 * (target[i] + 1);
    }
    loss_case c = {ctx, fwd, x, target, dloss};
    ds_pointwise_loss_bwd_args a = {.x = ds_tensor_cpu2(x, DS_F64, N, C), .target = ds_tensor_cpu2(target, DS_F64, N, C),
                                    .dx = ds_tensor_cpu2(dx, DS_F64, N, C), .dloss = dloss};
    if (ds_test_check(t, bwd(ctx, &a) == DS_OK, "%s backward failed: %s", what, ctx->err.msg))
        ds_gradcheck(t, what, x, dx, NC, PROBES, loss_of, &c, H, TOL);
}

int main(void) {
    ds_test t = ds_test_begin("gradcheck_losses");
    ds_context ctx = ds_context_cpu();
    check(&t, &ctx, "bce_with_logits dx (multi-hot)", ds_bce_with_logits_forward, ds_bce_with_logits_backward, true, 1);
    check(&t, &ctx, "bce_with_logits dx (soft, dloss 0.37)", ds_bce_with_logits_forward, ds_bce_with_logits_backward,
          false, 0.37);
    check(&t, &ctx, "mse dx", ds_mse_forward, ds_mse_backward, false, 1);
    check(&t, &ctx, "mse dx (dloss -2.5)", ds_mse_forward, ds_mse_backward, false, -2.5);
    return ds_test_finish(&t);
}
