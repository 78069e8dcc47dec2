// Four independent lanes over 32-byte blocks (so the multiplies pipeline: several GB/s), each
// lane a multiply-rotate accumulator; the tail and the length are mixed in at the end, and a
// final avalanche spreads every input bit over the result. Any single flipped bit changes the
// result: each step is a bijection of its accumulator for a fixed word and of the word for a
// fixed accumulator, so a change in any one word survives to the end.
#include "checksum.h"

#include <stdio.h>

static const uint64_t k_mul1 = 0x9E3779B185EBCA87ull;  // odd constants with well-spread bits
static const uint64_t k_mul2 = 0xC2B2AE3D27D4EB4Full;

static uint64_t rotl64(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static uint64_t load_le64(const unsigned char *p) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--) w = (w << 8) | p[i];  // compilers turn this into one load on x86
    return w;
}

static uint64_t lane_step(uint64_t lane, uint64_t word) { return rotl64(lane + word * k_mul2, 31) * k_mul1; }

static uint64_t avalanche(uint64_t h) {
    h ^= h >> 29;
    h *= k_mul2;
    h ^= h >> 32;
    h *= k_mul1;
    h ^= h >> 29;
    return h;
}

uint64_t ds_checksum64(const void *data, size_t n) {
    const unsigned char *p = data;  // (n) bytes, host
    uint64_t lane[4] = {k_mul1, k_mul2, ~k_mul1, ~k_mul2};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) lane[k] = lane_step(lane[k], load_le64(p + i + 8 * k));
    uint64_t h = (uint64_t)n * k_mul1;
    for (int k = 0; k < 4; k++) h = lane_step(h, lane[k]);
    for (; i + 8 <= n; i += 8) h = lane_step(h, load_le64(p + i));
    uint64_t tail = 0;
    for (size_t k = 0; i < n; i++, k++) tail |= (uint64_t)p[i] << (8 * k);
    h = lane_step(h, tail);  // n went into h first, so trailing zero bytes still count
    return avalanche(h);
}

char *ds_checksum_hex(uint64_t sum, char out[17]) {
    snprintf(out, 17, "%016llx", (unsigned long long)sum);
    return out;
}
