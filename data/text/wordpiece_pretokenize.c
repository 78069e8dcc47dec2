// tokenizers' BertPreTokenizer: split on whitespace (dropped) and around every punctuation
// character (each one its own word).
#include "wordpiece_internal.h"

bool ds_wp_next_word(const int32_t *cps, size_t n, size_t *pos, size_t *start, size_t *end) {
    size_t i = *pos;
    while (i < n && ds_wp_cp_is_whitespace(cps[i])) i++;
    if (i == n) {
        *pos = n;
        return false;
    }
    *start = i;
    if (ds_wp_cp_is_punct(cps[i])) {
        i++;
    } else {
        while (i < n && !ds_wp_cp_is_whitespace(cps[i]) && !ds_wp_cp_is_punct(cps[i])) i++;
    }
    *end = i;
    *pos = i;
    return true;
}
