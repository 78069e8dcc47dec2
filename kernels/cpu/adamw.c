// AdamW, the CPU reference: the arithmetic of torch.optim.AdamW's single-tensor path
// (torch/optim/adam.py `_single_tensor_adam` with decoupled_weight_decay, capturable=False),
// operation by operation and in the same order, so that the result matches torch to the last
// bit or nearly (tests/cpu/test_op_adamw.c). In torch:
//   param.mul_(1 - lr * wd)                              python double, rounded to float by mul_
//   exp_avg.lerp_(grad, 1 - beta1)                       weight rounded to float; see lerp_f32
//   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
//   bias_correction1 = 1 - beta1 ** step                 python doubles from here ...
//   bias_correction2 = 1 - beta2 ** step
//   step_size = lr / bias_correction1
//   bias_correction2_sqrt = bias_correction2 ** 0.5      ... to here
//   denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
//   param.addcdiv_(exp_avg, denom, value=-step_size)     self + (value * t1) / t2
// Each tensor-with-python-scalar op rounds the scalar to float first (ATen casts a wrapped
// scalar to the tensor's dtype), and computes in float. Measured against torch 2.x on x86-64
// (AVX-512 build, GCC): lerp and addcmul round as one fused multiply-add (fmaf below), mul, div,
// add and addcdiv round each operation. With that, m and v match torch bit for bit, and param
// does wherever torch's float sqrt is correctly rounded: torch's CPU sqrt (MKL's vector sqrt in
// the release builds) is not, it is off by up to 0.75 ulp on ~16% of inputs, which leaves param
// within ~1 ulp of the update in those elements (tests/cpu/test_op_adamw.c).
// The CUDA op (kernels/cuda/adamw.cu) takes its scalars from ds_adamw_scalars_of below and
// repeats the loop body operation by operation, so that it is bit-identical to this one
// (tests/gpu/test_cuda_adamw.c): change the loop bodies together.
#include <math.h>
#include <stdio.h>

#include "../../runtime/base/check.h"
#include "../../runtime/base/dtype.h"
#include "../adamw_scalars.h"
#include "adamw_loop.h"
#include "cpu_ops.h"

// torch's lerp on the CPU (ATen/native/cpu/LerpKernel.cpp, vectorised path): for |w| < 0.5
// fmadd(w, end - self, self), otherwise fmadd(w - 1, end - self, end); one rounding per fmadd.
// ATen's scalar tail (fewer elements than one vector) is contracted to the same fma by the
// compiler, so every element sees one rounding.
static float lerp_f32(float self, float end, float w) {
    return fabsf(w) < 0.5f ? fmaf(w, end - self, self) : fmaf(w - 1.0f, end - self, end);
}

ds_status ds_adamw_check_args(const ds_adamw_args *a, ds_device_kind kind, ds_err *err) {
    char d0[96], d1[96];
    DS_TRY(ds_tensor_expect(&a->param, "adamw: param", DS_F32, kind, a->param.ndim, err));
    const int64_t n = ds_tensor_numel(&a->param);
    const struct {
        const ds_tensor *t;
        const char *what;
    } same[] = {{&a->grad, "adamw: grad"}, {&a->m, "adamw: m"}, {&a->v, "adamw: v"}};
    for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
        DS_TRY(ds_tensor_expect(same[i].t, same[i].what, DS_F32, kind, same[i].t->ndim, err));
        DS_REQUIRE(err, ds_tensor_numel(same[i].t) == n, DS_ERR_INVALID_ARG, "%s is %s but param is %s",
                   same[i].what, ds_tensor_describe(same[i].t, d0, sizeof d0),
                   ds_tensor_describe(&a->param, d1, sizeof d1));
    }
    if (a->param_bf16.data != NULL) {
        DS_TRY(ds_tensor_expect(&a->param_bf16, "adamw: param_bf16", DS_BF16, kind, a->param_bf16.ndim,
                                err));
        DS_REQUIRE(err, ds_tensor_numel(&a->param_bf16) == n, DS_ERR_INVALID_ARG,
                   "adamw: param_bf16 is %s but param is %s", ds_tensor_describe(&a->param_bf16, d0, sizeof d0),
                   ds_tensor_describe(&a->param, d1, sizeof d1));
    }
    if (a->decay_mask.data != NULL) {
        DS_TRY(ds_tensor_expect(&a->decay_mask, "adamw: decay_mask", DS_U8, kind, a->decay_mask.ndim,
                                err));
        DS_REQUIRE(err, ds_tensor_numel(&a->decay_mask) == n, DS_ERR_INVALID_ARG,
                   "adamw: decay_mask is %s but param is %s", ds_tensor_describe(&a->decay_mask, d0, sizeof d0),
                   ds_tensor_describe(&a->param, d1, sizeof d1));
    }
    DS_REQUIRE(err, a->step >= 1, DS_ERR_INVALID_ARG, "adamw: step is %lld; it counts from 1",
               (long long)a->step);
    DS_REQUIRE(err, isfinite(a->lr) && a->lr >= 0, DS_ERR_INVALID_ARG, "adamw: lr must be >= 0, got %g", a->lr);
    DS_REQUIRE(err, a->beta1 >= 0 && a->beta1 < 1, DS_ERR_INVALID_ARG, "adamw: beta1 must be in [0, 1), got %g",
               a->beta1);
    DS_REQUIRE(err, a->beta2 >= 0 && a->beta2 < 1, DS_ERR_INVALID_ARG, "adamw: beta2 must be in [0, 1), got %g",
               a->beta2);
    DS_REQUIRE(err, isfinite(a->eps) && a->eps >= 0, DS_ERR_INVALID_ARG, "adamw: eps must be >= 0, got %g", a->eps);
    DS_REQUIRE(err, isfinite(a->weight_decay) && a->weight_decay >= 0, DS_ERR_INVALID_ARG,
               "adamw: weight_decay must be >= 0, got %g", a->weight_decay);
    DS_REQUIRE(err, isfinite(a->grad_scale), DS_ERR_INVALID_ARG, "adamw: grad_scale must be finite, got %g",
               a->grad_scale);
    return DS_OK;
}

ds_adamw_scalars ds_adamw_scalars_of(const ds_adamw_args *a) {
    ds_adamw_scalars s;
    // The python-double scalars, computed as torch computes them, then rounded where it rounds.
    const double step = (double)a->step;  // torch keeps step as a float tensor and reads .item()
    s.decay = a->weight_decay != 0;
    s.decay_factor = (float)(1 - a->lr * a->weight_decay);
    s.w1 = (float)(1 - a->beta1);
    s.beta2 = (float)a->beta2;
    s.w2 = (float)(1 - a->beta2);
    const double bias_correction1 = 1 - pow(a->beta1, step);
    const double bias_correction2 = 1 - pow(a->beta2, step);
    const double step_size = a->lr / bias_correction1;
    s.bc2_sqrt = (float)pow(bias_correction2, 0.5);  // python's ** 0.5 is C pow
    s.eps = (float)a->eps;
    s.neg_step_size = (float)(-step_size);
    s.scaled = a->grad_scale != 1.0;
    s.grad_scale = (float)a->grad_scale;
    return s;
}

ds_status ds_cpu_adamw(ds_context *ctx, const void *args) {
    const ds_adamw_args *a = args;
    DS_TRY(ds_adamw_check_args(a, DS_DEVICE_CPU, &ctx->err));
    const int64_t n = ds_tensor_numel(&a->param);
    float *param = a->param.data;               // (n) host, updated in place
    const float *grad = a->grad.data;           // (n) host
    float *m = a->m.data;                       // (n) host, updated in place
    float *v = a->v.data;                       // (n) host, updated in place
    unsigned short *param_bf16 = a->param_bf16.data;  // (n) host or NULL
    const unsigned char *decay_mask = a->decay_mask.data;  // (n) host or NULL (decay everywhere)
    const ds_adamw_scalars sc = ds_adamw_scalars_of(a);
    const bool decay = sc.decay, scaled = sc.scaled;
    const float decay_factor = sc.decay_factor, w1 = sc.w1, beta2 = sc.beta2, w2 = sc.w2, bc2_sqrt = sc.bc2_sqrt,
                eps = sc.eps, neg_step_size = sc.neg_step_size, grad_scale = sc.grad_scale;

    if (param_bf16 == NULL) {  // the CPU backend's case: the vectorised loop (adamw_loop.c)
        ds_adamw_loop_f32(ds_cpu_isa_select(), &sc, param, grad, m, v, decay && decay_mask ? decay_mask : NULL, n);
        return DS_OK;
    }
    // With a BF16 copy: the reference loop, element by element (adamw_loop_impl.inc repeats it).
    // Elements are independent: the thread count changes no result.
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        const float g = scaled ? grad[i] * grad_scale : grad[i];
        float p = param[i];
        // A masked-out element takes exactly the weight_decay = 0 path (no multiply at all).
        if (decay && (decay_mask == NULL || decay_mask[i] != 0)) p = p * decay_factor;
        const float mi = lerp_f32(m[i], g, w1);
        // mul_(beta2), then addcmul self + (value * t1) * t2 with the last step fused.
        const float vi = fmaf(w2 * g, g, v[i] * beta2);
        const float denom = sqrtf(vi) / bc2_sqrt + eps;
        p = p + (neg_step_size * mi) / denom;  // addcdiv: self + value * t1 / t2
        m[i] = mi;
        v[i] = vi;
        param[i] = p;
        param_bf16[i] = ds_f32_to_bf16(p);
    }
    return DS_OK;
}
