// CRC-32C (Castagnoli), as TFRecord files (TensorBoard's event files) checksum their records.
#ifndef DS_CRC32C_H
#define DS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// The CRC-32C of data[0..n) (host memory); ds_crc32c("123456789", 9) == 0xE3069283.
uint32_t ds_crc32c(const void *data, size_t n);
// Continues a CRC over more bytes: ds_crc32c_update(ds_crc32c(a), b) == ds_crc32c(a b).
uint32_t ds_crc32c_update(uint32_t crc, const void *data, size_t n);
// TFRecord's masked form: rotate right by 15, add 0xa282ead8 (so that a CRC of data holding CRCs
// does not degenerate).
uint32_t ds_crc32c_mask(uint32_t crc);

#endif
