// The vectorised AdamW loop (kernels/cpu/adamw_loop.c) against the element-by-element reference
// loop that adamw.c keeps for the BF16-copy case: param, m and v bit for bit equal, under every
// instruction set this CPU supports (cpu_isa.h), with and without decay mask, grad_scale and
// weight decay, with beta1 on both sides of lerp's switch (1 - beta1 < 0.5 and >= 0.5), over
// several steps, on 1 and 2 threads, and with a length that is not a multiple of the vector width.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "../../kernels/cpu/adamw_loop.h"
#include "../../kernels/ops.h"
#include "../../runtime/base/philox.h"
#include "../test_util.h"

enum { N = 100003 };

typedef struct cfg {
    double lr, beta1, beta2, eps, wd, gs;
    int use_mask;
} cfg;

int main(void) {
    ds_test t = ds_test_begin("adamw_isa");
    ds_context ctx = ds_context_cpu();
    const cfg cfgs[] = {{1e-3, 0.9, 0.999, 1e-8, 0.01, 1.0, 0},
                        {5e-2, 0.8, 0.99, 1e-6, 0.1, 0.37, 1},
                        {1e-4, 0.3, 0.5, 1e-8, 0.0, 1.0, 0},
                        {1e-2, 0.0, 0.9, 1e-7, 0.2, 2.5, 1}};
    float *ref[3], *got[3], *g = malloc(N * sizeof *g);
    unsigned short *bf16 = malloc(N * sizeof *bf16);
    unsigned char *mask = malloc(N);
    for (int a = 0; a < 3; a++) ref[a] = malloc(N * sizeof(float)), got[a] = malloc(N * sizeof(float));
    const ds_cpu_isa best = ds_cpu_isa_supported();
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        for (size_t c = 0; c < sizeof cfgs / sizeof cfgs[0]; c++) {
            for (int isa = 0; isa <= (int)best; isa++) {
                for (int64_t i = 0; i < N; i++) {
                    ref[0][i] = got[0][i] = 3 * (ds_philox_uniform(1, c, (uint64_t)i) - 0.5f);
                    ref[1][i] = got[1][i] = ref[2][i] = got[2][i] = 0;
                    mask[i] = ds_philox_u32(2, c, (uint64_t)i) & 1;
                }
                long diff = 0;
                for (int64_t step = 1; step <= 3; step++) {
                    for (int64_t i = 0; i < N; i++)
                        g[i] = (ds_philox_uniform(3, 10 * c + (uint64_t)step, (uint64_t)i) - 0.5f) * (i % 7 ? 1.0f : 1e-6f);
                    ds_adamw_args a = {.param = ds_tensor_cpu1(ref[0], DS_F32, N), .grad = ds_tensor_cpu1(g, DS_F32, N),
                                       .m = ds_tensor_cpu1(ref[1], DS_F32, N), .v = ds_tensor_cpu1(ref[2], DS_F32, N),
                                       .param_bf16 = ds_tensor_cpu1(bf16, DS_BF16, N), .lr = cfgs[c].lr,
                                       .beta1 = cfgs[c].beta1, .beta2 = cfgs[c].beta2, .eps = cfgs[c].eps,
                                       .weight_decay = cfgs[c].wd, .grad_scale = cfgs[c].gs, .step = step};
                    if (cfgs[c].use_mask) a.decay_mask = ds_tensor_cpu1(mask, DS_U8, N);
                    if (ds_adamw_step(&ctx, &a) != DS_OK) {  // the reference loop (param_bf16 set)
                        ds_test_check(&t, false, "reference step: %s", ctx.err.msg);
                        return ds_test_finish(&t);
                    }
                    const ds_adamw_scalars sc = ds_adamw_scalars_of(&a);
                    ds_adamw_loop_f32((ds_cpu_isa)isa, &sc, got[0], g, got[1], got[2],
                                      sc.decay && cfgs[c].use_mask ? mask : NULL, N);
                    for (int k = 0; k < 3; k++) diff += memcmp(ref[k], got[k], N * sizeof(float)) != 0;
                }
                ds_test_check(&t, diff == 0, "%d thread(s), case %zu, %s: param, m, v bit for bit the reference (%ld differ)",
                              threads, c, ds_cpu_isa_name((ds_cpu_isa)isa), diff);
            }
        }
    }
    for (int a = 0; a < 3; a++) free(ref[a]), free(got[a]);
    free(g), free(bf16), free(mask);
    return ds_test_finish(&t);
}
