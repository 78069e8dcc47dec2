// Every Unicode code point through our BertNormalizer (four settings) and BertPreTokenizer,
// against tokenizers itself (tests/fixtures/tokenizer/codepoints.txt, written by
// scripts/fixtures/tokenizer.py). This is where utf8proc's Unicode version and tokenizers'
// older or newer tables meet: any disagreement is listed as code point ranges.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../data/text/wordpiece_internal.h"
#include "../test_util.h"

#define MAX_OUT 8
#define FIELDS 6  // C L S U P O, in the fixture's order

typedef struct rule {
    int32_t lo, hi;
    char value[64];
} rule;

typedef struct rules {
    rule *r;
    size_t n, cap;
} rules;

static const char k_fields[FIELDS] = {'C', 'L', 'S', 'U', 'P', 'O'};

// The fixture's expected output of one code point under a rule value (see the file's header).
static int expand(const char *value, int32_t cp, int32_t out[MAX_OUT]) {
    int n = 0;
    bool pad = false;
    if (strncmp(value, "pad", 3) == 0) {
        pad = true;
        value += 3;
        out[n++] = ' ';
        if (*value == '\0') {
            out[n++] = cp;
            out[n++] = ' ';
            return n;
        }
    }
    if (strcmp(value, "drop") == 0) {
    } else if (strcmp(value, "space") == 0) {
        out[n++] = ' ';
    } else if (strcmp(value, "hangul") == 0) {
        const int32_t s = cp - 0xAC00;
        out[n++] = 0x1100 + s / 588;
        out[n++] = 0x1161 + (s % 588) / 28;
        if (s % 28) out[n++] = 0x11A7 + s % 28;
    } else if (value[0] == '+' || value[0] == '-') {
        out[n++] = cp + (int32_t)strtol(value, NULL, 10);
    } else if (value[0] == '=') {
        const char *p = value + 1;
        while (*p && n < MAX_OUT - 1) {
            char *end;
            out[n++] = (int32_t)strtol(p, &end, 16);
            p = *end == ',' ? end + 1 : end;
            if (end == p && *p) return -1;
        }
    } else {
        return -1;
    }
    if (pad) out[n++] = ' ';
    return n;
}

static bool load_rules(ds_test *t, rules per_field[FIELDS]) {
    char path[512];
    FILE *f = fopen(ds_test_fixture("tokenizer/codepoints.txt", path, sizeof path), "r");
    if (!ds_test_check(t, f != NULL, "cannot open %s", path)) return false;
    char line[512];
    int lineno = 0;
    bool ok = true;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        unsigned lo, hi;
        char field, value[64];
        int used = 0;
        if (sscanf(line, "%x%n", &lo, &used) != 1) ok = false;
        hi = lo;
        if (ok && line[used] == '-' && sscanf(line + used + 1, "%x", &hi) != 1) ok = false;
        const char *rest = strchr(line, ' ');
        if (!ok || rest == NULL || sscanf(rest, " %c %63s", &field, value) != 2) {
            ds_test_check(t, false, "%s:%d: cannot parse '%s'", path, lineno, line);
            ok = false;
            break;
        }
        const char *fp = memchr(k_fields, field, FIELDS);
        if (!ds_test_check(t, fp != NULL, "%s:%d: unknown field %c", path, lineno, field)) {
            ok = false;
            break;
        }
        rules *rs = &per_field[fp - k_fields];
        if (rs->n == rs->cap) {
            rs->cap = rs->cap ? 2 * rs->cap : 256;
            rs->r = realloc(rs->r, rs->cap * sizeof *rs->r);
        }
        rule *r = &rs->r[rs->n++];
        r->lo = (int32_t)lo;
        r->hi = (int32_t)hi;
        snprintf(r->value, sizeof r->value, "%s", value);
    }
    fclose(f);
    return ok;
}

static void fmt_cps(char *buf, size_t cap, const int32_t *cps, int n) {
    size_t k = 0;
    buf[0] = '\0';
    for (int i = 0; i < n && k + 10 < cap; i++) k += (size_t)snprintf(buf + k, cap - k, "%s%X", i ? "," : "", cps[i]);
    if (n == 0) snprintf(buf, cap, "(empty)");
}

// Our output for one code point and field: normalized code points; for P the pre-tokenizer's
// word count on 'a' + cp + 'b' (1: no split, 2: whitespace, 3: punctuation alone); for O whether
// canonical ordering moves a U+0334 (combining class 1) appended to the decomposition (0 or 1).
static int ours(int field, int32_t cp, ds_wp_scratch *s, int32_t out[MAX_OUT], ds_err *err) {
    static const ds_wp_settings settings[4] = {
        {.lowercase = false, .strip_accents = false, .chinese_chars = true},  // C
        {.lowercase = true, .strip_accents = false, .chinese_chars = false},  // L
        {.lowercase = false, .strip_accents = true, .chinese_chars = false},  // S
        {.lowercase = true, .strip_accents = true, .chinese_chars = true},    // U
    };
    if (field == 4) {
        const int32_t text[3] = {'a', cp, 'b'};
        size_t pos = 0, a, b;
        int words = 0;
        while (ds_wp_next_word(text, 3, &pos, &a, &b)) words++;
        out[0] = words;
        return 1;
    }
    if (field == 5) {
        int32_t d[MAX_OUT + 1];
        const size_t n = ds_wp_cp_decompose(cp, d, MAX_OUT);
        if (n > MAX_OUT) return -1;
        d[n] = 0x334;
        ds_wp_canonical_order(d, n + 1);
        out[0] = d[n] != 0x334;
        return 1;
    }
    s->cps[0] = cp;
    size_t n;
    if (ds_wp_normalize(&settings[field], s, 1, &n, err) != DS_OK || n > MAX_OUT) return -1;
    memcpy(out, s->norm, n * sizeof(int32_t));
    return (int)n;
}

int main(void) {
    ds_test t = ds_test_begin("wordpiece_unicode");
    rules per_field[FIELDS] = {0};
    if (!load_rules(&t, per_field)) return ds_test_finish(&t);
    ds_wp_scratch s = {0};
    s.cps = malloc(16 * sizeof(int32_t));
    s.cps_cap = 16;
    ds_err err = {0};
    for (int field = 0; field < FIELDS; field++) {
        const rules *rs = &per_field[field];
        size_t next = 0;
        long bad = 0;
        int32_t bad_lo = -1, bad_hi = -1;  // the run of mismatches being reported
        char first[256] = "";
        for (int32_t cp = 0; cp <= 0x10FFFF; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF) continue;
            while (next < rs->n && rs->r[next].hi < cp) next++;
            int32_t want[MAX_OUT], got[MAX_OUT];
            int nw;
            const bool listed = next < rs->n && rs->r[next].lo <= cp;
            if (field == 4) {  // P: ws / punct / not listed
                nw = 1;
                want[0] = !listed ? 1 : strcmp(rs->r[next].value, "ws") == 0 ? 2 : 3;
            } else if (field == 5) {  // O: swap / not listed
                nw = 1;
                want[0] = listed;
            } else if (listed) {
                nw = expand(rs->r[next].value, cp, want);
            } else {
                nw = 1;
                want[0] = cp;
            }
            const int ng = ours(field, cp, &s, got, &err);
            const bool same = nw >= 0 && ng == nw && memcmp(got, want, (size_t)nw * sizeof(int32_t)) == 0;
            if (!same) {
                if (bad == 0) {
                    char g[96], w[96];
                    fmt_cps(g, sizeof g, got, ng);
                    fmt_cps(w, sizeof w, want, nw);
                    snprintf(first, sizeof first, "first at U+%04X: got %s, tokenizers %s", cp, g, w);
                }
                bad++;
                if (bad_lo >= 0 && cp == bad_hi + 1) {
                    bad_hi = cp;
                } else {
                    if (bad_lo >= 0 && getenv("DS_TEST_VERBOSE"))
                        fprintf(stderr, "  %c %04X-%04X\n", k_fields[field], bad_lo, bad_hi);
                    bad_lo = bad_hi = cp;
                }
            }
        }
        if (bad_lo >= 0 && getenv("DS_TEST_VERBOSE"))
            fprintf(stderr, "  %c %04X-%04X\n", k_fields[field], bad_lo, bad_hi);
        ds_test_check(&t, bad == 0,
                      "field %c: %ld code points differ from tokenizers (%s; DS_TEST_VERBOSE=1 lists them)",
                      k_fields[field], bad, first);
        free(per_field[field].r);
    }
    ds_wp_scratch_free(&s);
    return ds_test_finish(&t);
}
