// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the
// counter-based generator that the CPU and CUDA backends share so that both draw identical
// streams: the same (seed, offset, index) gives the same number on either side.
//
// Stream convention (every user of random numbers follows it):
//   key     = {seed & 0xffffffff, seed >> 32}
//   counter = {idx4 & 0xffffffff, idx4 >> 32, offset & 0xffffffff, offset >> 32}, idx4 = index / 4
//   value   = lane (index % 4) of the 4 outputs
// `offset` separates uses (each dropout site, each step) and `index` is the element's linear index.
//
// The round function is defined here, in the header, on purpose: it is the one piece of code
// that must compile for both host and device (DS_HOSTDEV), and an inline definition is the only
// way to share it without relocatable device code. Nothing else in the project does this.
#ifndef DS_PHILOX_H
#define DS_PHILOX_H

#include <stdint.h>

#ifdef __CUDACC__
#define DS_HOSTDEV __host__ __device__ __forceinline__
#else
#define DS_HOSTDEV inline
#endif

typedef struct ds_philox4 {
    uint32_t v[4];
} ds_philox4;

static DS_HOSTDEV ds_philox4 ds_philox4x32_10(ds_philox4 ctr, uint32_t k0, uint32_t k1) {
    const uint32_t M0 = 0xD2511F53u, M1 = 0xCD9E8D57u;  // multipliers
    const uint32_t W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;  // Weyl key increments
    for (int r = 0; r < 10; r++) {
        const uint64_t p0 = (uint64_t)M0 * ctr.v[0];
        const uint64_t p1 = (uint64_t)M1 * ctr.v[2];
        ds_philox4 n;
        n.v[0] = (uint32_t)(p1 >> 32) ^ ctr.v[1] ^ k0;
        n.v[1] = (uint32_t)p1;
        n.v[2] = (uint32_t)(p0 >> 32) ^ ctr.v[3] ^ k1;
        n.v[3] = (uint32_t)p0;
        ctr = n;
        k0 += W0;
        k1 += W1;
    }
    return ctr;
}

// The 32-bit draw for element `index` of stream (seed, offset).
static DS_HOSTDEV uint32_t ds_philox_u32(uint64_t seed, uint64_t offset, uint64_t index) {
    const uint64_t idx4 = index >> 2;
    ds_philox4 c = {{(uint32_t)idx4, (uint32_t)(idx4 >> 32), (uint32_t)offset, (uint32_t)(offset >> 32)}};
    ds_philox4 r = ds_philox4x32_10(c, (uint32_t)seed, (uint32_t)(seed >> 32));
    return r.v[index & 3];
}

// Uniform float in [0, 1) with 24 random bits: exactly representable, identical on every device.
static DS_HOSTDEV float ds_philox_uniform(uint64_t seed, uint64_t offset, uint64_t index) {
    return (float)(ds_philox_u32(seed, offset, index) >> 8) * (1.0f / 16777216.0f);
}

// Dropout's keep decision: element kept with probability 1 - p.
static DS_HOSTDEV int ds_philox_keep(uint64_t seed, uint64_t offset, uint64_t index, float p) {
    return ds_philox_uniform(seed, offset, index) >= p;
}

#endif
