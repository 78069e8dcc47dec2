// UTF-8 decoding and tokenizers' BertNormalizer, stage by stage in its order:
// clean_text, handle_chinese_chars, strip_accents (NFD over the whole piece, then drop Mn),
// lowercase. Each stage reads scratch->cps and writes scratch->norm; the two are then swapped.
#include <utf8proc.h>

#include "wordpiece_internal.h"

ds_status ds_wp_decode_utf8(const char *text, size_t len, size_t base_offset, ds_wp_scratch *scratch, size_t *count,
                            ds_err *err) {
    // A piece never has more code points than bytes.
    DS_WP_RESERVE(scratch->cps, scratch->cps_cap, len + 1, "code point buffer", err);
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text;
    size_t n = 0, i = 0;
    while (i < len) {
        if (p[i] < 0x80) {  // ASCII fast path
            scratch->cps[n++] = p[i++];
            continue;
        }
        utf8proc_int32_t cp;
        const utf8proc_ssize_t k = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "tokenizer: invalid UTF-8 at byte %zu (0x%02X): %s",
                              base_offset + i, p[i], utf8proc_errmsg(k < 0 ? k : UTF8PROC_ERROR_INVALIDUTF8));
        scratch->cps[n++] = cp;
        i += (size_t)k;
    }
    *count = n;
    return DS_OK;
}

void ds_wp_canonical_order(int32_t *cps, size_t n) {
    // Insertion sort inside each run of non-starters.
    for (size_t i = 1; i < n; i++) {
        const int32_t cp = cps[i];
        if (cp < 0x300) continue;  // no combining class below U+0300
        const int cc = ds_wp_cp_combining_class(cp);
        if (cc == 0) continue;
        size_t j = i;
        while (j > 0) {
            const int32_t prev = cps[j - 1];
            const int pc = prev < 0x300 ? 0 : ds_wp_cp_combining_class(prev);
            if (pc <= cc) break;  // a starter (0) ends the run; equal classes keep their order
            cps[j] = prev;
            j--;
        }
        cps[j] = cp;
    }
}

static void swap_buffers(ds_wp_scratch *s) {
    int32_t *p = s->cps;
    s->cps = s->norm;
    s->norm = p;
    const size_t c = s->cps_cap;
    s->cps_cap = s->norm_cap;
    s->norm_cap = c;
}

// clean_text (always on in BertTokenizer) and handle_chinese_chars.
static ds_status clean(const ds_wp_settings *st, ds_wp_scratch *s, size_t n, size_t *out_n, ds_err *err) {
    DS_WP_RESERVE(s->norm, s->norm_cap, 3 * n + 1, "normalized text", err);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t cp = s->cps[i];
        if (cp < 0x80 && cp > 0x20 && cp != 0x7F) {  // printable ASCII: kept as is
            s->norm[m++] = cp;
        } else if (ds_wp_cp_is_dropped(cp)) {
            continue;
        } else if (ds_wp_cp_is_whitespace(cp)) {
            s->norm[m++] = ' ';
        } else if (st->chinese_chars && ds_wp_cp_is_chinese(cp)) {
            s->norm[m++] = ' ';
            s->norm[m++] = cp;
            s->norm[m++] = ' ';
        } else {
            s->norm[m++] = cp;
        }
    }
    *out_n = m;
    return DS_OK;
}

// NFD: full canonical decomposition, then the canonical ordering of each run of combining
// marks (a stable sort by combining class), then drop the non-spacing marks.
static ds_status strip_accents(ds_wp_scratch *s, size_t n, size_t *out_n, ds_err *err) {
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t cp = s->cps[i];
        if (cp < 0xC0) {  // nothing below U+00C0 decomposes
            DS_WP_RESERVE(s->norm, s->norm_cap, m + 1, "normalized text", err);
            s->norm[m++] = cp;
            continue;
        }
        // A canonical decomposition is at most 4 code points long; ask again if ever longer.
        DS_WP_RESERVE(s->norm, s->norm_cap, m + 4, "normalized text", err);
        size_t k = ds_wp_cp_decompose(cp, s->norm + m, s->norm_cap - m);
        if (k > s->norm_cap - m) {
            DS_WP_RESERVE(s->norm, s->norm_cap, m + k, "normalized text", err);
            k = ds_wp_cp_decompose(cp, s->norm + m, s->norm_cap - m);
        }
        m += k;
    }
    ds_wp_canonical_order(s->norm, m);
    size_t kept = 0;
    for (size_t i = 0; i < m; i++) {
        const int32_t cp = s->norm[i];
        if (cp >= 0x300 && ds_wp_cp_is_nonspacing_mark(cp)) continue;
        s->norm[kept++] = cp;
    }
    *out_n = kept;
    return DS_OK;
}

static ds_status lowercase(ds_wp_scratch *s, size_t n, size_t *out_n, ds_err *err) {
    DS_WP_RESERVE(s->norm, s->norm_cap, 2 * n + 1, "normalized text", err);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const int32_t cp = s->cps[i];
        if (cp < 0x80) {
            s->norm[m++] = (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
            continue;
        }
        int32_t low[2];
        const int k = ds_wp_cp_lower(cp, low);
        for (int j = 0; j < k; j++) s->norm[m++] = low[j];
    }
    *out_n = m;
    return DS_OK;
}

ds_status ds_wp_normalize(const ds_wp_settings *settings, ds_wp_scratch *scratch, size_t count, size_t *out_count,
                          ds_err *err) {
    size_t n = count;
    DS_TRY(clean(settings, scratch, n, &n, err));
    if (settings->strip_accents) {
        swap_buffers(scratch);
        DS_TRY(strip_accents(scratch, n, &n, err));
    }
    if (settings->lowercase) {
        swap_buffers(scratch);
        DS_TRY(lowercase(scratch, n, &n, err));
    }
    *out_count = n;
    return DS_OK;
}
