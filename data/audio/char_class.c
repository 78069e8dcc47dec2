// A Python regex character class "[...]" over code points: enough of sre_parse's class syntax to
// read the recipe's chars_to_ignore exactly (see ctc_vocab.h).
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "../../runtime/base/check.h"
#include "ctc_vocab.h"

enum { CLS_D = 1, CLS_ND = 2, CLS_S = 4, CLS_NS = 8, CLS_W = 16, CLS_NW = 32 };

static bool is_digit(int32_t cp) { return utf8proc_category(cp) == UTF8PROC_CATEGORY_ND; }

static bool is_word(int32_t cp) {
    if (cp == '_') return true;
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT: case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
        return true;
    default:
        return false;
    }
}

bool ds_char_class_match(const ds_char_class *cls, int32_t cp) {
    bool in = false;
    for (size_t i = 0; i < cls->range_count && !in; i++) in = cp >= cls->ranges[2 * i] && cp <= cls->ranges[2 * i + 1];
    const unsigned c = cls->classes;
    in = in || ((c & CLS_D) && is_digit(cp)) || ((c & CLS_ND) && !is_digit(cp)) || ((c & CLS_S) && ds_py_isspace(cp)) ||
         ((c & CLS_NS) && !ds_py_isspace(cp)) || ((c & CLS_W) && is_word(cp)) || ((c & CLS_NW) && !is_word(cp));
    return in != cls->negate;
}

void ds_char_class_free(ds_char_class *cls) {
    free(cls->ranges);
    *cls = (ds_char_class){0};
}

static ds_status add_range(ds_char_class *cls, int32_t lo, int32_t hi, size_t *cap, ds_err *err) {
    if (cls->range_count == *cap) {
        const size_t c = *cap ? *cap * 2 : 16;
        int32_t *r = realloc(cls->ranges, 2 * c * sizeof *r);
        if (r == NULL) return ds_err_set(err, DS_ERR_OOM, "chars_to_ignore: out of memory");
        cls->ranges = r;
        *cap = c;
    }
    cls->ranges[2 * cls->range_count] = lo;
    cls->ranges[2 * cls->range_count + 1] = hi;
    cls->range_count++;
    return DS_OK;
}

static int hex_value(int32_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// One item after a backslash at p[*i] (the character after it): a code point (*cp) or a class bit
// (*bit). Advances *i past the escape.
static ds_status parse_escape(const ds_cps *p, size_t *i, const char *chars, int32_t *cp, unsigned *bit, ds_err *err) {
    *bit = 0;
    DS_REQUIRE(err, *i < p->n, DS_ERR_CONFIG, "chars_to_ignore \"%s\": a trailing backslash", chars);
    const int32_t c = p->v[(*i)++];
    switch (c) {
    case 'd': *bit = CLS_D; return DS_OK;
    case 'D': *bit = CLS_ND; return DS_OK;
    case 's': *bit = CLS_S; return DS_OK;
    case 'S': *bit = CLS_NS; return DS_OK;
    case 'w': *bit = CLS_W; return DS_OK;
    case 'W': *bit = CLS_NW; return DS_OK;
    case 'a': *cp = 7; return DS_OK;
    case 'b': *cp = 8; return DS_OK;
    case 'f': *cp = 12; return DS_OK;
    case 'n': *cp = 10; return DS_OK;
    case 'r': *cp = 13; return DS_OK;
    case 't': *cp = 9; return DS_OK;
    case 'v': *cp = 11; return DS_OK;
    case 'x': case 'u': case 'U': {
        const int digits = c == 'x' ? 2 : c == 'u' ? 4 : 8;
        int32_t v = 0;
        for (int k = 0; k < digits; k++) {
            const int h = *i < p->n ? hex_value(p->v[*i]) : -1;
            DS_REQUIRE(err, h >= 0, DS_ERR_CONFIG, "chars_to_ignore \"%s\": incomplete escape \\%c", chars, (char)c);
            v = v * 16 + h;
            (*i)++;
        }
        DS_REQUIRE(err, v <= 0x10FFFF, DS_ERR_CONFIG, "chars_to_ignore \"%s\": bad escape \\%c", chars, (char)c);
        *cp = v;
        return DS_OK;
    }
    default:
        break;
    }
    if (c >= '0' && c <= '7') {  // octal: up to three digits
        int32_t v = c - '0';
        for (int k = 0; k < 2 && *i < p->n && p->v[*i] >= '0' && p->v[*i] <= '7'; k++) v = v * 8 + (p->v[(*i)++] - '0');
        *cp = v;
        return DS_OK;
    }
    DS_REQUIRE(err, !(c < 128 && (c == '_' ? false : ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                                       (c >= '0' && c <= '9')))),
               DS_ERR_CONFIG, "chars_to_ignore \"%s\": bad escape \\%c (Python's re rejects it too)", chars, (char)c);
    *cp = c;
    return DS_OK;
}

// One class item at p[*i]: a literal or an escape.
static ds_status parse_item(const ds_cps *p, size_t *i, const char *chars, int32_t *cp, unsigned *bit, ds_err *err) {
    if (p->v[*i] == '\\') {
        (*i)++;
        return parse_escape(p, i, chars, cp, bit, err);
    }
    *bit = 0;
    *cp = p->v[(*i)++];
    return DS_OK;
}

ds_status ds_char_class_compile(const char *chars, ds_char_class *cls, ds_err *err) {
    memset(cls, 0, sizeof *cls);
    ds_cps p = {0};
    size_t cap = 0, i = 0;
    ds_status s = ds_utf8_to_cps(chars, strlen(chars), "chars_to_ignore", &p, err);
    if (s == DS_OK && i < p.n && p.v[i] == '^') {
        cls->negate = true;
        i++;
    }
    bool first = true, closed = false;
    while (s == DS_OK && i < p.n) {
        if (p.v[i] == ']' && !first) {  // the class ends here: the rest would be outside it
            closed = true;
            break;
        }
        first = false;
        int32_t lo = 0, hi = 0;
        unsigned bit = 0, bit2 = 0;
        s = parse_item(&p, &i, chars, &lo, &bit, err);
        if (s != DS_OK) break;
        if (i + 1 < p.n && p.v[i] == '-' && p.v[i + 1] != ']') {  // a range lo-hi
            i++;
            s = parse_item(&p, &i, chars, &hi, &bit2, err);
            if (s == DS_OK && (bit || bit2))
                s = ds_err_set(err, DS_ERR_CONFIG, "chars_to_ignore \"%s\": bad character range (a class escape)", chars);
            if (s == DS_OK && hi < lo)
                s = ds_err_set(err, DS_ERR_CONFIG, "chars_to_ignore \"%s\": bad character range U+%04X-U+%04X", chars,
                               (unsigned)lo, (unsigned)hi);
            if (s == DS_OK) s = add_range(cls, lo, hi, &cap, err);
        } else if (bit) {
            cls->classes |= bit;
        } else {
            s = add_range(cls, lo, lo, &cap, err);
        }
    }
    if (s == DS_OK && closed)
        s = ds_err_set(err, DS_ERR_CONFIG,
                       "chars_to_ignore \"%s\": an unescaped \"]\" ends the class early (the recipe's regex would then "
                       "require the characters after it); write \\]",
                       chars);
    if (s == DS_OK && p.n == 0) s = ds_err_set(err, DS_ERR_CONFIG, "chars_to_ignore is empty (\"[]\" is not a valid class)");
    ds_cps_free(&p);
    if (s != DS_OK) ds_char_class_free(cls);
    return s;
}
