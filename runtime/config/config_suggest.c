// "Did you mean ...?" for unknown config keys: the nearest declared key by edit distance, over
// the full path (typos: "bench.bacth") and over the last component alone (right name, wrong
// section: "bench.seed" -> "run.seed"). A component's initials count as one edit away from it,
// so an abbreviation finds its long form and back ("learning_rate" ~ "lr").
#include <string.h>

#include "config_internal.h"

#define DS_EDIT_MAX 255  // longer strings are compared on their first 255 bytes

int ds_edit_distance(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    if (na > DS_EDIT_MAX) na = DS_EDIT_MAX;
    if (nb > DS_EDIT_MAX) nb = DS_EDIT_MAX;
    int row[DS_EDIT_MAX + 1];  // row[j]: distance between a[0..i) and b[0..j)
    for (size_t j = 0; j <= nb; j++) row[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        int diag = row[0];  // distance a[0..i-1) vs b[0..j-1)
        row[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            const int up = row[j];
            int best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return (int)row[nb];
}

static const char *last_component(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

// First letters of the '_'-separated words of s ("learning_rate" -> "lr"), or "" for one word.
static void initials(const char *s, char *buf, size_t cap) {
    size_t o = 0;
    bool words = strchr(s, '_') != NULL;
    for (const char *p = s; words && *p && o + 1 < cap; p++)
        if (*p != '_' && (p == s || p[-1] == '_')) buf[o++] = *p;
    buf[o] = '\0';
}

static int last_distance(const char *a, const char *b) {
    int d = ds_edit_distance(a, b);
    char ia[64], ib[64];
    initials(a, ia, sizeof ia);
    initials(b, ib, sizeof ib);
    if (d > 1 && ((ia[0] && strcmp(ia, b) == 0) || (ib[0] && strcmp(ib, a) == 0))) d = 1;
    return d;
}

static bool same_section(const char *a, const char *b) {
    const size_t na = (size_t)(last_component(a) - a), nb = (size_t)(last_component(b) - b);
    return na == nb && strncmp(a, b, na) == 0;
}

const char *ds_config_suggest(const ds_config_key *keys, int nkeys, const char *path) {
    if (!path) return NULL;
    const char *last = last_component(path);
    // Farther than this is no longer a typo of the name but a different name.
    const int limit = strlen(last) / 2 > 1 ? (int)(strlen(last) / 2) : 1;
    int best = -1, best_score = 0, best_full = 0;
    bool best_same = false;
    for (int i = 0; i < nkeys; i++) {
        const int full = ds_edit_distance(path, keys[i].path);
        const int part = last_distance(last, last_component(keys[i].path));
        const int score = full < part ? full : part;
        const bool same = same_section(path, keys[i].path);
        // Ties go to the key in the same section, then to the nearer full path, then table order.
        const bool better = best < 0 || score < best_score ||
                            (score == best_score && same && !best_same) ||
                            (score == best_score && same == best_same && full < best_full);
        if (better) {
            best = i;
            best_score = score;
            best_full = full;
            best_same = same;
        }
    }
    return best >= 0 && best_score <= limit ? keys[best].path : NULL;
}
