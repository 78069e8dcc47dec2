// Zip structures (APPNOTE.TXT 6.3): local header 0x04034b50 (30 bytes + name + extra, then the
// data), central directory entries 0x02014b50 (46 bytes + name + extra + comment), the end record
// 0x06054b50 (22 bytes + comment) and, for archives past 4 GB or 65535 entries, the zip64 end
// record 0x06064b50 found through its locator 0x07064b50 right before the end record. Every
// multi-byte field is little-endian.
#include "zip_reader.h"

#include <stdlib.h>
#include <string.h>

#include "../base/check.h"
#include "escape.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_END 0x06054b50u
#define SIG_END64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
#define END_BYTES 22u
#define LOCATOR64_BYTES 20u
#define END64_BYTES 56u
#define CENTRAL_BYTES 46u
#define LOCAL_BYTES 30u
#define MAX_COMMENT 65535u

static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t u64(const uint8_t *p) { return (uint64_t)u32(p) | (uint64_t)u32(p + 4) << 32; }

bool ds_zip_sniff(const uint8_t *buf, size_t len) {
    return len >= 4 && buf[0] == 'P' && buf[1] == 'K' &&
           ((buf[2] == 3 && buf[3] == 4) || (buf[2] == 5 && buf[3] == 6));
}

// The end record: the last signature whose comment reaches exactly to the end of the buffer.
static ds_status find_end(const ds_zip *z, size_t *at, ds_err *err) {
    if (z->len < END_BYTES)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: %zu bytes, too short for a zip archive (truncated?)", z->path,
                          z->len);
    const size_t lowest = z->len - END_BYTES > MAX_COMMENT ? z->len - END_BYTES - MAX_COMMENT : 0;
    for (size_t p = z->len - END_BYTES + 1; p-- > lowest;) {
        if (u32(z->buf + p) == SIG_END && p + END_BYTES + u16(z->buf + p + 20) == z->len) {
            *at = p;
            return DS_OK;
        }
    }
    return ds_err_set(err, DS_ERR_FORMAT,
                      "%s: no zip end-of-central-directory record (the file is truncated or not a zip archive)",
                      z->path);
}

// Entries and central directory extent from the end record, or from the zip64 end record when
// the former's fields are saturated.
static ds_status read_end(const ds_zip *z, size_t end_at, uint64_t *entries, uint64_t *cd_offset, uint64_t *cd_size,
                          uint64_t *cd_limit, ds_err *err) {
    const uint8_t *e = z->buf + end_at;
    const uint16_t disk = u16(e + 4), cd_disk = u16(e + 6), on_disk = u16(e + 8), total = u16(e + 10);
    *entries = total;
    *cd_size = u32(e + 12);
    *cd_offset = u32(e + 16);
    *cd_limit = end_at;
    const bool zip64 = total == 0xffff || on_disk == 0xffff || *cd_size == 0xffffffffu || *cd_offset == 0xffffffffu;
    if (!zip64) {
        if (disk != 0 || cd_disk != 0 || on_disk != total)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: a multi-disk (split) zip archive, which is not supported",
                              z->path);
        return DS_OK;
    }
    if (end_at < LOCATOR64_BYTES || u32(z->buf + end_at - LOCATOR64_BYTES) != SIG_LOCATOR64)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: the zip end record has saturated fields but no zip64 locator precedes it (corrupt)",
                          z->path);
    const uint8_t *loc = z->buf + end_at - LOCATOR64_BYTES;
    const uint64_t end64 = u64(loc + 8);
    if (u32(loc + 4) != 0 || u32(loc + 16) > 1)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: a multi-disk (split) zip64 archive, which is not supported",
                          z->path);
    const uint64_t limit = end_at - LOCATOR64_BYTES;
    if (end64 > limit || limit - end64 < END64_BYTES || u32(z->buf + end64) != SIG_END64)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: zip64 end record at offset %llu is missing or out of bounds",
                          z->path, (unsigned long long)end64);
    const uint8_t *r = z->buf + end64;
    if (u32(r + 16) != 0 || u32(r + 20) != 0 || u64(r + 24) != u64(r + 32))
        return ds_err_set(err, DS_ERR_FORMAT, "%s: a multi-disk (split) zip64 archive, which is not supported",
                          z->path);
    *entries = u64(r + 32);
    *cd_size = u64(r + 40);
    *cd_offset = u64(r + 48);
    *cd_limit = end64;
    return DS_OK;
}

// Replaces the saturated 32-bit fields of a central entry by their zip64 extra-field values.
static ds_status apply_zip64_extra(const ds_zip *z, const uint8_t *extra, size_t n, ds_zip_entry *en, bool need_size,
                                   bool need_comp, bool need_offset, ds_err *err) {
    char name[160];
    size_t at = 0;
    while (need_size || need_comp || need_offset) {
        if (n - at < 4)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: zip entry '%s' has 32-bit fields saturated but no zip64 extra field holding them",
                              z->path, ds_escape_span(en->name, en->name_len, name, sizeof name));
        const uint16_t id = u16(extra + at), size = u16(extra + at + 2);
        if (size > n - at - 4)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s': an extra field runs past its entry", z->path,
                              ds_escape_span(en->name, en->name_len, name, sizeof name));
        if (id == 0x0001) {
            const uint8_t *p = extra + at + 4;
            const size_t want = 8u * (need_size + need_comp + need_offset);
            if (size < want)
                return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s': zip64 extra field too short (%u bytes)",
                                  z->path, ds_escape_span(en->name, en->name_len, name, sizeof name), size);
            if (need_size) en->size = u64(p), p += 8;
            if (need_comp) en->comp_size = u64(p), p += 8;
            if (need_offset) en->local_offset = u64(p);
            return DS_OK;
        }
        at += 4u + size;
    }
    return DS_OK;
}

static ds_status read_central(ds_zip *z, uint64_t entries, uint64_t cd_offset, uint64_t cd_size, ds_err *err) {
    const uint64_t cd_end = cd_offset + cd_size;
    if (entries > cd_size / CENTRAL_BYTES || entries > INT32_MAX)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: the zip directory declares %llu entries but its %llu bytes hold at most %llu", z->path,
                          (unsigned long long)entries, (unsigned long long)cd_size,
                          (unsigned long long)(cd_size / CENTRAL_BYTES));
    z->entries = calloc(entries > 0 ? (size_t)entries : 1, sizeof *z->entries);
    if (z->entries == NULL) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", z->path);
    uint64_t at = cd_offset;
    char name[160];
    for (uint64_t i = 0; i < entries; i++) {
        if (cd_end - at < CENTRAL_BYTES || u32(z->buf + at) != SIG_CENTRAL)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: zip central directory entry %llu (at offset %llu) is missing or corrupt", z->path,
                              (unsigned long long)i, (unsigned long long)at);
        const uint8_t *c = z->buf + at;
        const size_t n = u16(c + 28), e = u16(c + 30), k = u16(c + 32);
        if (cd_end - at - CENTRAL_BYTES < n + e + k)
            return ds_err_set(err, DS_ERR_FORMAT,
                              "%s: zip central directory entry %llu runs past the end of the directory", z->path,
                              (unsigned long long)i);
        ds_zip_entry *en = &z->entries[z->count];
        en->name = (const char *)c + CENTRAL_BYTES;
        en->name_len = n;
        en->flags = u16(c + 8);
        en->method = u16(c + 10);
        en->comp_size = u32(c + 20);
        en->size = u32(c + 24);
        en->local_offset = u32(c + 42);
        const bool need_size = en->size == 0xffffffffu, need_comp = en->comp_size == 0xffffffffu,
                   need_offset = en->local_offset == 0xffffffffu;
        DS_TRY(apply_zip64_extra(z, c + CENTRAL_BYTES + n, e, en, need_size, need_comp, need_offset, err));
        if (u16(c + 34) != 0 && u16(c + 34) != 0xffff)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s' lies on another disk (split archive)", z->path,
                              ds_escape_span(en->name, n, name, sizeof name));
        const int r = ds_str_index_put(&z->names, en->name, n, z->count, NULL);
        if (r < 0) return ds_err_set(err, DS_ERR_OOM, "%s: out of memory", z->path);
        if (r == 0)
            return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s' appears twice in the directory", z->path,
                              ds_escape_span(en->name, n, name, sizeof name));
        z->count++;
        at += CENTRAL_BYTES + n + e + k;
    }
    return DS_OK;
}

ds_status ds_zip_open(ds_zip *z, const uint8_t *buf, size_t len, const char *path, ds_err *err) {
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    z->path = path;
    size_t end_at = 0;
    uint64_t entries = 0, cd_offset = 0, cd_size = 0, cd_limit = 0;
    ds_status s = find_end(z, &end_at, err);
    if (s == DS_OK) s = read_end(z, end_at, &entries, &cd_offset, &cd_size, &cd_limit, err);
    if (s == DS_OK && (cd_offset > cd_limit || cd_size > cd_limit - cd_offset))
        s = ds_err_set(err, DS_ERR_FORMAT,
                       "%s: the zip central directory (offset %llu, %llu bytes) lies outside the archive (%llu bytes "
                       "before its end record; truncated?)",
                       path, (unsigned long long)cd_offset, (unsigned long long)cd_size,
                       (unsigned long long)cd_limit);
    if (s == DS_OK) {
        z->cd_offset = cd_offset;
        s = read_central(z, entries, cd_offset, cd_size, err);
    }
    if (s != DS_OK) ds_zip_close(z);
    return s;
}

void ds_zip_close(ds_zip *z) {
    if (z == NULL) return;
    free(z->entries);
    ds_str_index_free(&z->names);
    memset(z, 0, sizeof *z);
}

int32_t ds_zip_find(const ds_zip *z, const char *name, size_t len) { return ds_str_index_get(&z->names, name, len); }

ds_status ds_zip_entry_data(const ds_zip *z, int32_t i, const uint8_t **data, uint64_t *size, ds_err *err) {
    const ds_zip_entry *en = &z->entries[i];
    char name[160];
    ds_escape_span(en->name, en->name_len, name, sizeof name);
    if (en->flags & 1u)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s' is encrypted, which is not supported", z->path,
                          name);
    if (en->method != 0)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: zip entry '%s' is compressed (method %u%s); torch.save stores entries uncompressed: "
                          "re-save the checkpoint with torch.save, or re-zip it without compression (zip -0)",
                          z->path, name, en->method, en->method == 8 ? ", deflate" : "");
    if (en->comp_size != en->size)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: zip entry '%s' is stored uncompressed but its sizes differ (%llu stored, %llu "
                          "extracted)",
                          z->path, name, (unsigned long long)en->comp_size, (unsigned long long)en->size);
    const uint64_t lo = en->local_offset;
    if (lo > z->cd_offset || z->cd_offset - lo < LOCAL_BYTES || u32(z->buf + lo) != SIG_LOCAL)
        return ds_err_set(err, DS_ERR_FORMAT, "%s: zip entry '%s': no local header at offset %llu (corrupt archive)",
                          z->path, name, (unsigned long long)lo);
    const uint8_t *h = z->buf + lo;
    const uint64_t n = u16(h + 26), e = u16(h + 28);
    const uint64_t room = z->cd_offset - lo - LOCAL_BYTES;  // bytes before the central directory
    if (n + e > room || n != en->name_len || memcmp(h + LOCAL_BYTES, en->name, n) != 0)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: zip entry '%s': its local header does not match the central directory (corrupt "
                          "archive)",
                          z->path, name);
    if (en->size > room - n - e)
        return ds_err_set(err, DS_ERR_FORMAT,
                          "%s: zip entry '%s': its %llu bytes at offset %llu run past the start of the central "
                          "directory (offset %llu; truncated or corrupt archive)",
                          z->path, name, (unsigned long long)en->size,
                          (unsigned long long)(lo + LOCAL_BYTES + n + e), (unsigned long long)z->cd_offset);
    *data = h + LOCAL_BYTES + n + e;
    *size = en->size;
    return DS_OK;
}
