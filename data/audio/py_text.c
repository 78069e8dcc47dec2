// Python str semantics on code points (see py_text.h for what is reproduced and how it was checked).
#include "py_text.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../../runtime/base/check.h"
#include "py_text_internal.h"

void ds_cps_free(ds_cps *c) {
    free(c->v);
    *c = (ds_cps){0};
}

void ds_str_free(ds_str *s) {
    free(s->v);
    *s = (ds_str){0};
}

void ds_str_clear(ds_str *s) {
    s->n = 0;
    if (s->v) s->v[0] = '\0';
}

ds_status ds_cps_push(ds_cps *c, int32_t cp, ds_err *err) {
    if (c->n == c->cap) {
        const size_t cap = c->cap ? c->cap * 2 : 64;
        int32_t *v = realloc(c->v, cap * sizeof *v);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "text: out of memory for %zu characters", cap);
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = cp;
    return DS_OK;
}

ds_status ds_str_append(ds_str *s, const char *bytes, size_t n, ds_err *err) {
    if (s->n + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->n + n + 1) cap *= 2;
        char *v = realloc(s->v, cap);
        if (v == NULL) return ds_err_set(err, DS_ERR_OOM, "text: out of memory for %zu bytes", cap);
        s->v = v;
        s->cap = cap;
    }
    if (n) memcpy(s->v + s->n, bytes, n);
    s->n += n;
    s->v[s->n] = '\0';
    return DS_OK;
}

ds_status ds_str_append_cp(ds_str *s, int32_t cp, ds_err *err) {
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
    return ds_str_append(s, (const char *)buf, (size_t)n, err);
}

ds_status ds_utf8_to_cps(const char *text, size_t len, const char *what, ds_cps *out, ds_err *err) {
    out->n = 0;
    size_t at = 0;
    while (at < len) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t used = utf8proc_iterate((const utf8proc_uint8_t *)text + at, (utf8proc_ssize_t)(len - at), &cp);
        if (used <= 0 || cp < 0)
            return ds_err_set(err, DS_ERR_INVALID_ARG, "%s: invalid UTF-8 at byte %zu", what, at);
        DS_TRY(ds_cps_push(out, cp, err));
        at += (size_t)used;
    }
    return DS_OK;
}

ds_status ds_cps_append_utf8(const int32_t *cps, size_t n, ds_str *out, ds_err *err) {
    for (size_t i = 0; i < n; i++) DS_TRY(ds_str_append_cp(out, cps[i], err));
    if (out->v == NULL) DS_TRY(ds_str_append(out, "", 0, err));  // "" rather than NULL
    return DS_OK;
}

bool ds_py_isspace(int32_t cp) {
    if (cp <= 0x20) return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

static int by_cp(const void *key, const void *elem) {
    const int32_t k = *(const int32_t *)key;
    const int32_t c = ((const ds_py_upper_special *)elem)->cp;
    return (k > c) - (k < c);
}

int ds_py_upper_char(int32_t cp, int32_t out[3]) {
    const ds_py_upper_special *s =
        bsearch(&cp, ds_py_upper_specials, DS_PY_UPPER_SPECIALS, sizeof ds_py_upper_specials[0], by_cp);
    if (s == NULL) {
        out[0] = utf8proc_toupper(cp);
        return 1;
    }
    int n = 0;
    for (; n < 3 && s->up[n] != 0; n++) out[n] = s->up[n];
    return n;
}

ds_status ds_py_upper(const int32_t *in, size_t n, ds_cps *out, ds_err *err) {
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t up[3];
        const int k = ds_py_upper_char(in[i], up);
        for (int j = 0; j < k; j++) DS_TRY(ds_cps_push(out, up[j], err));
    }
    return DS_OK;
}

// Unicode's Case_Ignorable as Python 3.11 has it: Mn, Me, Cf, Lm, Sk, and Word_Break
// MidLetter / MidNumLet / Single_Quote characters.
static bool case_ignorable(int32_t cp) {
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    switch (cp) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4: case 0x2018:
    case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07:
    case 0xFF0E: case 0xFF1A:
        return true;
    default:
        return false;
    }
}

// Unicode's Cased (for characters that are not case-ignorable): letters with a case, and the
// Other_Lowercase / Other_Uppercase characters that have no case mapping.
static bool cased(int32_t cp) {
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        return true;
    default:
        break;
    }
    if (utf8proc_toupper(cp) != cp || utf8proc_tolower(cp) != cp) return true;
    return cp == 0xAA || cp == 0xBA || (cp >= 0x1F130 && cp <= 0x1F149) || (cp >= 0x1F150 && cp <= 0x1F169) ||
           (cp >= 0x1F170 && cp <= 0x1F189);
}

// Python's handle_capital_sigma: is in[i] (a capital sigma) word-final?
static bool final_sigma(const int32_t *in, size_t n, size_t i) {
    size_t j = i;
    while (j > 0 && case_ignorable(in[j - 1])) j--;
    if (j == 0 || !cased(in[j - 1])) return false;
    j = i + 1;
    while (j < n && case_ignorable(in[j])) j++;
    return j == n || !cased(in[j]);
}

ds_status ds_py_lower(const int32_t *in, size_t n, ds_cps *out, ds_err *err) {
    out->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == 0x130) {  // İ: "i" + combining dot above
            DS_TRY(ds_cps_push(out, 0x69, err));
            DS_TRY(ds_cps_push(out, 0x307, err));
        } else if (in[i] == 0x3A3) {
            DS_TRY(ds_cps_push(out, final_sigma(in, n, i) ? 0x3C2 : 0x3C3, err));
        } else {
            DS_TRY(ds_cps_push(out, utf8proc_tolower(in[i]), err));
        }
    }
    return DS_OK;
}

void ds_py_strip_range(const int32_t *in, size_t n, size_t *begin, size_t *end) {
    size_t b = 0, e = n;
    while (b < e && ds_py_isspace(in[b])) b++;
    while (e > b && ds_py_isspace(in[e - 1])) e--;
    *begin = b;
    *end = e;
}
