// SHA-256 (FIPS 180-4), streaming: what the Hugging Face Hub names LFS files by (their ETag) and
// what torch.hub checks the prefix of in a checkpoint's file name.
#ifndef DS_SHA256_H
#define DS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "../base/status.h"

typedef struct ds_sha256 {
    uint32_t h[8];
    uint64_t bytes;           // message length so far
    unsigned char block[64];  // a partial block
    size_t fill;              // bytes in `block`
} ds_sha256;

void ds_sha256_init(ds_sha256 *s);
void ds_sha256_update(ds_sha256 *s, const void *data, size_t n);
// The digest as 64 lowercase hex digits and a NUL into hex[65].
void ds_sha256_final_hex(ds_sha256 *s, char hex[65]);

// The digest of a whole file; DS_ERR_IO names it.
ds_status ds_sha256_file(const char *path, char hex[65], ds_err *err);

#endif
