// The tiled F32 CPU attention (attention_tiled.h describes the method), compiled per
// instruction set: the row loops use ds_vexpf (vec_math.h) and the vectorised dropout factors.
#include "attention_tiled.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "dropout_mask.h"
#include "isa_targets.h"
#include "vec_math.h"

// One thread's scratch, carved from its bytes (ds_att_scratch_carve).
typedef struct ds_att_scratch {
    float *kc, *vc;    // (T, D) gathered keys and values
    int32_t *idx;      // (T) their original indices
    float *span, *z;   // (T) dropout factors of a key span; (TK) of a block
    float *s, *g, *pz; // (TQ, TK) scores / probabilities; dp' then scale * ds; p' (backward)
    float *m, *l;      // (TQ) running max and sum (forward); m: the row term (backward)
    float *dkc, *dvc;  // (T, D) gradients of the gathered keys and values (backward)
} ds_att_scratch;

static size_t round64(size_t n) { return (n + 63) & ~(size_t)63; }

// Carves `w` from `base` (ds_att_scratch_bytes of it); returns the bytes used.
static size_t ds_att_scratch_carve(const ds_att_problem *pb, int backward, unsigned char *base, ds_att_scratch *w) {
    const size_t f = sizeof(float), td = round64((size_t)(pb->T * pb->D) * f), t = round64((size_t)pb->T * f);
    const size_t tile = round64((size_t)DS_ATT_TQ * DS_ATT_TK * f), row = round64((size_t)DS_ATT_TQ * f);
    const size_t blk = round64((size_t)DS_ATT_TK * f);
    size_t at = 0;
#define DS_TAKE(ptr, type, bytes) (w->ptr = base ? (type *)(base + at) : NULL, at += (bytes))
    DS_TAKE(kc, float, td);
    DS_TAKE(vc, float, td);
    DS_TAKE(idx, int32_t, round64((size_t)pb->T * sizeof(int32_t)));
    DS_TAKE(span, float, t);
    DS_TAKE(z, float, blk);
    DS_TAKE(s, float, tile);
    DS_TAKE(m, float, row);
    DS_TAKE(l, float, row);
    if (backward) {
        DS_TAKE(g, float, tile);
        DS_TAKE(pz, float, tile);
        DS_TAKE(dkc, float, td);
        DS_TAKE(dvc, float, td);
    } else {
        w->g = w->pz = w->dkc = w->dvc = NULL;
    }
#undef DS_TAKE
    return at;
}

size_t ds_att_scratch_bytes(const ds_att_problem *pb, int backward) {
    ds_att_scratch w;
    return ds_att_scratch_carve(pb, backward, NULL, &w);
}

#define DS_ISA_IMPL "attention_tiled_impl.inc"
#include "isa_variants.inc"

void ds_att_forward_f32(ds_cpu_isa isa, const ds_att_problem *pb, float *out, float *lse, unsigned char *scratch,
                        size_t per_thread) {
#if DS_ISA_X86
    if (isa == DS_CPU_ISA_AVX512) return att_forward_avx512(pb, out, lse, scratch, per_thread);
    if (isa == DS_CPU_ISA_AVX2) return att_forward_avx2(pb, out, lse, scratch, per_thread);
#endif
    (void)isa;
    att_forward_base(pb, out, lse, scratch, per_thread);
}

void ds_att_backward_f32(ds_cpu_isa isa, const ds_att_problem *pb, const float *out, const float *lse,
                         const float *dout, float *dq, float *dk, float *dv, unsigned char *scratch,
                         size_t per_thread) {
#if DS_ISA_X86
    if (isa == DS_CPU_ISA_AVX512) return att_backward_avx512(pb, out, lse, dout, dq, dk, dv, scratch, per_thread);
    if (isa == DS_CPU_ISA_AVX2) return att_backward_avx2(pb, out, lse, dout, dq, dk, dv, scratch, per_thread);
#endif
    (void)isa;
    att_backward_base(pb, out, lse, dout, dq, dk, dv, scratch, per_thread);
}
