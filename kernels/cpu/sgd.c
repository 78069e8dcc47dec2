// SGD with momentum, the CPU reference: the arithmetic of torch.optim.SGD's single-tensor path
// (torch/optim/sgd.py `_single_tensor_sgd`, dampening 0, maximize off), operation by operation:
//   grad = grad.add(param, alpha=weight_decay)        fmadd(param, wd, grad): one rounding
//   buf = torch.clone(grad)                            on the first step
//   buf.mul_(momentum).add_(grad, alpha=1)             a multiply, then an add: two roundings
//   grad = grad.add(buf, alpha=momentum)               nesterov: fmadd(buf, momentum, grad)
//   grad = buf                                         otherwise
//   param.add_(grad, alpha=-lr)                        fmadd(grad, -lr, param): one rounding
// ATen's add with an alpha computes self + alpha * other with a fused multiply-add in its
// vectorised loop (ufunc::add on Vectorized: vec::fmadd), which fmaf reproduces; the python
// scalars are rounded to float first (ds_sgd_scalars_of). clip_grad_norm_ scales the gradient in
// place before the step (a float multiply), which grad_scale does as the step reads it.
// The CUDA op (kernels/cuda/sgd.cu) repeats the loop body operation by operation: change both.
#include <math.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/dtype.h"
#include "../sgd_scalars.h"
#include "cpu_ops.h"

ds_status ds_sgd_check_args(const ds_sgd_args *a, ds_device_kind kind, ds_err *err) {
    char d0[96], d1[96];
    DS_TRY(ds_tensor_expect(&a->param, "sgd: param", DS_F32, kind, a->param.ndim, err));
    const int64_t n = ds_tensor_numel(&a->param);
    const bool has_momentum = a->momentum != 0;
    DS_REQUIRE(err, has_momentum == (a->momentum_buf.data != NULL), DS_ERR_INVALID_ARG,
               "sgd: momentum %g needs %s momentum buffer", a->momentum, has_momentum ? "a" : "no");
    const struct {
        const ds_tensor *t;
        const char *what;
        ds_dtype dtype;
    } same[] = {{&a->grad, "sgd: grad", DS_F32},
                {&a->momentum_buf, "sgd: momentum_buf", DS_F32},
                {&a->param_bf16, "sgd: param_bf16", DS_BF16},
                {&a->decay_mask, "sgd: decay_mask", DS_U8}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        if (same[i].t->data == NULL) {
            DS_REQUIRE(err, i != 0, DS_ERR_INVALID_ARG, "sgd: grad is absent");
            continue;
        }
        DS_TRY(ds_tensor_expect(same[i].t, same[i].what, same[i].dtype, kind, same[i].t->ndim, err));
        DS_REQUIRE(err, ds_tensor_numel(same[i].t) == n, DS_ERR_INVALID_ARG, "%s is %s but param is %s",
                   same[i].what, ds_tensor_describe(same[i].t, d0, sizeof d0),
                   ds_tensor_describe(&a->param, d1, sizeof d1));
    }
    DS_REQUIRE(err, a->step >= 1, DS_ERR_INVALID_ARG, "sgd: step is %lld; it counts from 1", (long long)a->step);
    DS_REQUIRE(err, isfinite(a->lr) && a->lr >= 0, DS_ERR_INVALID_ARG, "sgd: lr must be >= 0, got %g", a->lr);
    DS_REQUIRE(err, isfinite(a->momentum) && a->momentum >= 0, DS_ERR_INVALID_ARG,
               "sgd: momentum must be >= 0, got %g", a->momentum);
    DS_REQUIRE(err, !a->nesterov || has_momentum, DS_ERR_INVALID_ARG, "sgd: Nesterov momentum requires a momentum > 0");
    DS_REQUIRE(err, isfinite(a->weight_decay) && a->weight_decay >= 0, DS_ERR_INVALID_ARG,
               "sgd: weight_decay must be >= 0, got %g", a->weight_decay);
    DS_REQUIRE(err, isfinite(a->grad_scale), DS_ERR_INVALID_ARG, "sgd: grad_scale must be finite, got %g",
               a->grad_scale);
    return DS_OK;
}

ds_sgd_scalars ds_sgd_scalars_of(const ds_sgd_args *a) {
    ds_sgd_scalars s;
    s.scaled = a->grad_scale != 1.0;
    s.decay = a->weight_decay != 0;
    s.has_momentum = a->momentum != 0;
    s.first = a->step == 1;
    s.nesterov = a->nesterov;
    s.grad_scale = (float)a->grad_scale;
    s.weight_decay = (float)a->weight_decay;
    s.momentum = (float)a->momentum;
    s.neg_lr = (float)(-a->lr);
    return s;
}

ds_status ds_cpu_sgd(ds_context *ctx, const void *args) {
    const ds_sgd_args *a = args;
    DS_TRY(ds_sgd_check_args(a, DS_DEVICE_CPU, &ctx->err));
    const int64_t n = ds_tensor_numel(&a->param);
    float *param = a->param.data;                      // (n) host, updated in place
    const float *grad = a->grad.data;                  // (n) host
    float *buf = a->momentum_buf.data;                 // (n) host, updated in place, or NULL
    unsigned short *param_bf16 = a->param_bf16.data;   // (n) host or NULL
    const unsigned char *decay_mask = a->decay_mask.data;  // (n) host or NULL (decay everywhere)
    const ds_sgd_scalars s = ds_sgd_scalars_of(a);

    // Elements are independent: the thread count changes no result.
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float g = s.scaled ? grad[i] * s.grad_scale : grad[i];
        float p = param[i];
        if (s.decay && (decay_mask == NULL || decay_mask[i] != 0)) g = fmaf(p, s.weight_decay, g);
        if (s.has_momentum) {
            const float b = s.first ? g : buf[i] * s.momentum + g;
            buf[i] = b;
            g = s.nesterov ? fmaf(b, s.momentum, g) : b;
        }
        p = fmaf(g, s.neg_lr, p);
        param[i] = p;
        if (param_bf16) param_bf16[i] = ds_f32_to_bf16(p);
    }
    return DS_OK;
}
