// Character classes exactly as Hugging Face tokenizers (the Rust library behind
// BertTokenizerFast) computes them. The base is utf8proc (Unicode 15 in Debian 12's 2.8);
// tokenizers' own tables are of other ages, so small hand-kept range lists correct utf8proc
// where the two disagree:
//   - categories (Cc/Cf/Co/Cs, P*, Mn) come from the unicode_categories crate, whose tables
//     are Unicode 8.0: characters added since are not punctuation, not dropped as format
//     characters and not stripped as accents;
//   - NFD comes from the unicode-normalization-alignments crate (Unicode 9.0 tables: marks
//     added since have combining class 0 to it, so they are never reordered);
//   - lowercase is Rust's char::to_lowercase, whose tables are newer than utf8proc's;
//   - whitespace is Rust's char::is_whitespace (White_Space, unchanged for years).
// tests/cpu/test_wordpiece_unicode.c checks every code point against tokenizers itself
// (tests/fixtures/tokenizer/codepoints.txt), so any drift in either library shows up there.
#include <utf8proc.h>

#include "wordpiece_internal.h"

typedef struct cp_range {
    int32_t lo, hi;  // inclusive
} cp_range;

static bool in_ranges(const cp_range *r, size_t n, int32_t cp) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        if (cp < r[mid].lo)
            hi = mid;
        else if (cp > r[mid].hi)
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

// The tables below were read off tokenizers 0.23.3 by comparing it with utf8proc 2.8 on every
// code point (scripts/fixtures/tokenizer.py writes the comparison data).

// Cf since Unicode 9 (utf8proc drops them, tokenizers keeps them).
static const cp_range k_format_unknown[] = {
    {0x0890, 0x0891},
    {0x08E2, 0x08E2},
    {0x110CD, 0x110CD},
    {0x13430, 0x1343F},
};

// P* since Unicode 9: not punctuation to tokenizers.
static const cp_range k_punct_unknown[] = {
    {0x061D, 0x061D},   {0x09FD, 0x09FD},   {0x0A76, 0x0A76},   {0x0C77, 0x0C77},   {0x0C84, 0x0C84},
    {0x1B7D, 0x1B7E},   {0x2E43, 0x2E4F},   {0x2E52, 0x2E5D},   {0x10EAD, 0x10EAD}, {0x10F55, 0x10F59},
    {0x10F86, 0x10F89}, {0x1144B, 0x1144F}, {0x1145A, 0x1145B}, {0x1145D, 0x1145D}, {0x11660, 0x1166C},
    {0x116B9, 0x116B9}, {0x1183B, 0x1183B}, {0x11944, 0x11946}, {0x119E2, 0x119E2}, {0x11A3F, 0x11A46},
    {0x11A9A, 0x11A9C}, {0x11A9E, 0x11AA2}, {0x11B00, 0x11B09}, {0x11C41, 0x11C45}, {0x11C70, 0x11C71},
    {0x11EF7, 0x11EF8}, {0x11F43, 0x11F4F}, {0x11FFF, 0x11FFF}, {0x12FF1, 0x12FF2}, {0x16E97, 0x16E9A},
    {0x16FE2, 0x16FE2}, {0x1E95E, 0x1E95F},
};

// P* in Unicode 8, another category since: still punctuation to tokenizers.
static const cp_range k_punct_former[] = {
    {0x166D, 0x166D},
    {0x111C9, 0x111C9},
};

// Mn since Unicode 9: not stripped by tokenizers.
static const cp_range k_mark_unknown[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08E1},   {0x09FE, 0x09FE},   {0x0AFA, 0x0AFF},
    {0x0B55, 0x0B55},   {0x0C04, 0x0C04},   {0x0C3C, 0x0C3C},   {0x0D00, 0x0D00},   {0x0D3B, 0x0D3C},
    {0x0D81, 0x0D81},   {0x0EBA, 0x0EBA},   {0x0ECE, 0x0ECE},   {0x180F, 0x180F},   {0x1885, 0x1886},
    {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFB},   {0xA82C, 0xA82C},   {0xA8C5, 0xA8C5},   {0xA8FF, 0xA8FF},
    {0xA9BD, 0xA9BD},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x11073, 0x11074}, {0x110C2, 0x110C2}, {0x111C9, 0x111C9},
    {0x111CF, 0x111CF}, {0x1123E, 0x1123E}, {0x11241, 0x11241}, {0x1133B, 0x1133B}, {0x11438, 0x1143F},
    {0x11442, 0x11444}, {0x11446, 0x11446}, {0x1145E, 0x1145E}, {0x1182F, 0x11837}, {0x11839, 0x1183A},
    {0x1193B, 0x1193C}, {0x1193E, 0x1193E}, {0x11943, 0x11943}, {0x119D4, 0x119D7}, {0x119DA, 0x119DB},
    {0x119E0, 0x119E0}, {0x11A01, 0x11A0A}, {0x11A33, 0x11A38}, {0x11A3B, 0x11A3E}, {0x11A47, 0x11A47},
    {0x11A51, 0x11A56}, {0x11A59, 0x11A5B}, {0x11A8A, 0x11A96}, {0x11A98, 0x11A99}, {0x11C30, 0x11C36},
    {0x11C38, 0x11C3D}, {0x11C3F, 0x11C3F}, {0x11C92, 0x11CA7}, {0x11CAA, 0x11CB0}, {0x11CB2, 0x11CB3},
    {0x11CB5, 0x11CB6}, {0x11D31, 0x11D36}, {0x11D3A, 0x11D3A}, {0x11D3C, 0x11D3D}, {0x11D3F, 0x11D45},
    {0x11D47, 0x11D47}, {0x11D90, 0x11D91}, {0x11D95, 0x11D95}, {0x11D97, 0x11D97}, {0x11EF3, 0x11EF4},
    {0x11F00, 0x11F01}, {0x11F36, 0x11F3A}, {0x11F40, 0x11F40}, {0x11F42, 0x11F42}, {0x13440, 0x13440},
    {0x13447, 0x13455}, {0x16F4F, 0x16F4F}, {0x16FE4, 0x16FE4}, {0x1CF00, 0x1CF2D}, {0x1CF30, 0x1CF46},
    {0x1E000, 0x1E006}, {0x1E008, 0x1E018}, {0x1E01B, 0x1E021}, {0x1E023, 0x1E024}, {0x1E026, 0x1E02A},
    {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF}, {0x1E4EC, 0x1E4EF},
    {0x1E944, 0x1E94A},
};

// Mn in Unicode 8, Mc since: still stripped by tokenizers.
static const cp_range k_mark_former[] = {
    {0x1734, 0x1734},
};

// A combining class in utf8proc, none (0) in tokenizers' NFD: never reordered.
static const cp_range k_ccc_unknown[] = {
    {0x07FD, 0x07FD},   {0x0898, 0x089F},   {0x08CA, 0x08D3},   {0x09FE, 0x09FE},   {0x0C3C, 0x0C3C},
    {0x0D3B, 0x0D3C},   {0x0EBA, 0x0EBA},   {0x1715, 0x1715},   {0x1ABF, 0x1ACE},   {0x1DF6, 0x1DFA},
    {0xA82C, 0xA82C},   {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
    {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E}, {0x11839, 0x1183A},
    {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0}, {0x11A34, 0x11A34}, {0x11A47, 0x11A47},
    {0x11A99, 0x11A99}, {0x11D42, 0x11D42}, {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42},
    {0x16FF0, 0x16FF1}, {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
    {0x1E4EC, 0x1E4EF},
};

// Canonical decompositions since Unicode 9: tokenizers' NFD leaves these whole.
static const cp_range k_decomposition_unknown[] = {
    {0x11938, 0x11938},
};

// Lowercase mappings of Unicode 16 and 17, which Rust's to_lowercase has and utf8proc 2.8 lacks:
// code points lo..hi map to cp + delta.
typedef struct cp_shift {
    int32_t lo, hi, delta;
} cp_shift;
static const cp_shift k_lower_newer[] = {
    {0x1C89, 0x1C89, 1},      {0xA7CB, 0xA7CB, 0x0264 - 0xA7CB},
    {0xA7CC, 0xA7CC, 1},      {0xA7CE, 0xA7CE, 1},
    {0xA7D2, 0xA7D2, 1},      {0xA7D4, 0xA7D4, 1},
    {0xA7DA, 0xA7DA, 1},      {0xA7DC, 0xA7DC, 0x019B - 0xA7DC},
    {0x10D50, 0x10D65, 0x20}, {0x16EA0, 0x16EB8, 0x1B},
};

bool ds_wp_cp_is_whitespace(int32_t cp) {
    static const cp_range ws[] = {{0x09, 0x0D},     {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},
                                  {0x1680, 0x1680}, {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F},
                                  {0x205F, 0x205F}, {0x3000, 0x3000}};
    return in_ranges(ws, N_OF(ws), cp);
}

bool ds_wp_cp_is_chinese(int32_t cp) {
    // tokenizers' list (bert.rs); note the gap at 0x2B820-0x2B91F, which the Python tokenizer
    // of transformers does not have.
    static const cp_range cjk[] = {{0x3400, 0x4DBF},   {0x4E00, 0x9FFF},   {0xF900, 0xFAFF},   {0x20000, 0x2A6DF},
                                   {0x2A700, 0x2B73F}, {0x2B740, 0x2B81F}, {0x2B920, 0x2CEAF}, {0x2F800, 0x2FA1F}};
    return in_ranges(cjk, N_OF(cjk), cp);
}

bool ds_wp_cp_is_dropped(int32_t cp) {
    if (cp == 0 || cp == 0xFFFD) return true;
    if (cp == '\t' || cp == '\n' || cp == '\r') return false;
    const utf8proc_category_t c = utf8proc_category(cp);
    if (c == UTF8PROC_CATEGORY_CF) return !in_ranges(k_format_unknown, N_OF(k_format_unknown), cp);
    return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CO || c == UTF8PROC_CATEGORY_CS;
}

bool ds_wp_cp_is_punct(int32_t cp) {
    if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126))
        return true;
    if (cp < 0x80) return false;
    const utf8proc_category_t c = utf8proc_category(cp);
    if (c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO)
        return !in_ranges(k_punct_unknown, N_OF(k_punct_unknown), cp);
    return in_ranges(k_punct_former, N_OF(k_punct_former), cp);
}

bool ds_wp_cp_is_nonspacing_mark(int32_t cp) {
    if (utf8proc_category(cp) == UTF8PROC_CATEGORY_MN) return !in_ranges(k_mark_unknown, N_OF(k_mark_unknown), cp);
    return in_ranges(k_mark_former, N_OF(k_mark_former), cp);
}

int ds_wp_cp_lower(int32_t cp, int32_t out[2]) {
    // The one unconditional multi-character lowercase mapping of SpecialCasing.txt, which
    // Rust applies and utf8proc's simple mapping does not.
    if (cp == 0x130) {
        out[0] = 0x69;
        out[1] = 0x307;
        return 2;
    }
    out[0] = utf8proc_tolower(cp);
    if (out[0] == cp && cp >= k_lower_newer[0].lo) {
        for (size_t i = 0; i < N_OF(k_lower_newer); i++)
            if (cp >= k_lower_newer[i].lo && cp <= k_lower_newer[i].hi) out[0] = cp + k_lower_newer[i].delta;
    }
    return 1;
}

size_t ds_wp_cp_decompose(int32_t cp, int32_t *out, size_t cap) {
    if (in_ranges(k_decomposition_unknown, N_OF(k_decomposition_unknown), cp)) {
        if (cap > 0) out[0] = cp;
        return 1;
    }
    int boundclass = UTF8PROC_BOUNDCLASS_START;
    const utf8proc_ssize_t n = utf8proc_decompose_char(cp, out, (utf8proc_ssize_t)cap, UTF8PROC_DECOMPOSE, &boundclass);
    if (n < 0) {  // only for an invalid code point, which decoding already rejected
        if (cap > 0) out[0] = cp;
        return 1;
    }
    return (size_t)n;
}

int ds_wp_cp_combining_class(int32_t cp) {
    const int cc = utf8proc_get_property(cp)->combining_class;
    return cc && in_ranges(k_ccc_unknown, N_OF(k_ccc_unknown), cp) ? 0 : cc;
}
