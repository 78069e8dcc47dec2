#include "escape.h"

#include <stdio.h>

const char *ds_escape_span(const char *s, size_t n, char *buf, size_t cap) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char c = (unsigned char)s[i];
        const size_t w = (c < 0x20 || c == 0x7f) ? 4 : 1;
        if (o + w + 4 > cap) {  // room for "..." and the NUL
            snprintf(buf + o, cap - o, "...");
            return buf;
        }
        if (w == 4)
            snprintf(buf + o, cap - o, "\\x%02x", c);
        else
            buf[o] = (char)c;
        o += w;
    }
    buf[o] = '\0';
    return buf;
}
