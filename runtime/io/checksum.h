// A fast 64-bit checksum of a byte range, for detecting corrupted checkpoint data (a flipped
// bit, a zeroed page). Not cryptographic: it guards against accidents, not against tampering.
#ifndef DS_CHECKSUM_H
#define DS_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

// The checksum of data[0..n) (host memory, any alignment). Equal bytes give equal values on
// every machine (little- and big-endian alike: words are read little-endian).
uint64_t ds_checksum64(const void *data, size_t n);

// The checksum as 16 lowercase hex digits and a NUL into out[17]; returns out.
char *ds_checksum_hex(uint64_t sum, char out[17]);

#endif
