// Philox4x32-10 (runtime/base/philox.h) against the known-answer vectors of Random123
// (Salmon et al. 2011; the "philox4x32 10" lines of Random123's kat_vectors: counter, key ->
// output), and the stream convention every user of random numbers relies on.
#include <math.h>
#include <stdint.h>

#include "../../runtime/base/philox.h"
#include "../test_util.h"

typedef struct kat {
    uint32_t ctr[4], key[2], want[4];
} kat;

static const kat k_kats[] = {
    {{0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u}, {0x00000000u, 0x00000000u},
     {0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}},
    {{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu},
     {0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}},
    // counter and key from the hex digits of pi
    {{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u},
     {0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}},
};

static void check_kats(ds_test *t) {
    for (size_t c = 0; c < sizeof k_kats / sizeof k_kats[0]; c++) {
        const kat *k = &k_kats[c];
        const ds_philox4 ctr = {{k->ctr[0], k->ctr[1], k->ctr[2], k->ctr[3]}};
        const ds_philox4 r = ds_philox4x32_10(ctr, k->key[0], k->key[1]);
        for (int l = 0; l < 4; l++)
            ds_test_check(t, r.v[l] == k->want[l], "KAT %zu lane %d: got %08x, want %08x", c, l, r.v[l],
                          k->want[l]);
    }
}

// The convention of philox.h: key {seed lo, seed hi}; counter {idx4 lo, idx4 hi, offset lo,
// offset hi} with idx4 = index / 4; the value is lane index % 4. High words are exercised.
static void check_stream_convention(ds_test *t) {
    const uint64_t seed = 0x0123456789abcdefull, offset = 0x0000000500000021ull;
    const uint64_t indices[] = {0, 1, 2, 3, 4, 7, 1000003, 0x00000007fffffffeull, 0x0000000123456789ull};
    for (size_t n = 0; n < sizeof indices / sizeof indices[0]; n++) {
        const uint64_t i = indices[n], i4 = i / 4;
        const ds_philox4 ctr = {{(uint32_t)i4, (uint32_t)(i4 >> 32), 0x00000021u, 0x00000005u}};
        const ds_philox4 r = ds_philox4x32_10(ctr, 0x89abcdefu, 0x01234567u);
        const uint32_t got = ds_philox_u32(seed, offset, i);
        ds_test_check(t, got == r.v[i % 4], "stream value of index %llu: got %08x, want %08x", (unsigned long long)i,
                      got, r.v[i % 4]);
        // uniform: the top 24 bits over 2^24, exactly; keep: uniform >= p
        const float u = ds_philox_uniform(seed, offset, i);
        ds_test_check(t, u == (float)(got >> 8) / 16777216.0f && u >= 0.0f && u < 1.0f,
                      "uniform of index %llu: %.9g from %08x", (unsigned long long)i, (double)u, got);
        ds_test_check(t, ds_philox_keep(seed, offset, i, u) == 1 && ds_philox_keep(seed, offset, i, nextafterf(u, 2.0f)) == 0,
                      "keep of index %llu is not `uniform >= p`", (unsigned long long)i);
    }
    // Different offsets and seeds are different streams.
    int same_offset = 0, same_seed = 0;
    for (uint64_t i = 0; i < 256; i++) {
        same_offset += ds_philox_u32(seed, offset, i) == ds_philox_u32(seed, offset + 1, i);
        same_seed += ds_philox_u32(seed, offset, i) == ds_philox_u32(seed + 1, offset, i);
    }
    ds_test_check(t, same_offset == 0 && same_seed == 0, "neighbouring streams share %d / %d of 256 values",
                  same_offset, same_seed);
}

int main(void) {
    ds_test t = ds_test_begin("philox");
    check_kats(&t);
    check_stream_convention(&t);
    return ds_test_finish(&t);
}
