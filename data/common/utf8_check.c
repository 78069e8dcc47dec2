#include "utf8_check.h"

#include <stdint.h>

size_t ds_utf8_bom_length(const char *data, size_t size) {
    const unsigned char *u = (const unsigned char *)data;
    return size >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF ? 3 : 0;
}

long ds_text_line_of(const char *data, size_t size, size_t offset) {
    long line = 1;
    for (size_t i = 0; i < offset && i < size; i++) {
        if (data[i] == '\n') line++;
        else if (data[i] == '\r' && (i + 1 == size || data[i + 1] != '\n')) line++;  // CRLF counts at its LF
    }
    return line;
}

// Bytes in the well-formed sequence starting at s[0] (at most `left` bytes available), or 0
// when it is not well-formed. Ranges from RFC 3629 section 4 (Table 3-7 of the Unicode standard).
static size_t sequence_length(const unsigned char *s, size_t left) {
    const unsigned char b = s[0];
    if (b < 0x80) return 1;
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
    if (b >= 0xC2 && b <= 0xDF) n = 2;
    else if (b == 0xE0) n = 3, lo = 0xA0;  // no overlong 3-byte forms
    else if (b >= 0xE1 && b <= 0xEC) n = 3;
    else if (b == 0xED) n = 3, hi = 0x9F;  // no UTF-16 surrogates D800..DFFF
    else if (b >= 0xEE && b <= 0xEF) n = 3;
    else if (b == 0xF0) n = 4, lo = 0x90;  // no overlong 4-byte forms
    else if (b >= 0xF1 && b <= 0xF3) n = 4;
    else if (b == 0xF4) n = 4, hi = 0x8F;  // nothing above U+10FFFF
    else return 0;
    if (left < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < n; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return n;
}

ds_status ds_utf8_check(const char *data, size_t size, const char *name, ds_err *err) {
    const unsigned char *u = (const unsigned char *)data;
    size_t i = 0;
    while (i < size) {
        if (u[i] == 0) break;
        if (u[i] < 0x80) {  // fast path: ASCII
            i++;
            continue;
        }
        const size_t n = sequence_length(u + i, size - i);
        if (n == 0) break;
        i += n;
    }
    if (i == size) return DS_OK;
    size_t line_start = i;
    while (line_start > 0 && data[line_start - 1] != '\n' && data[line_start - 1] != '\r') line_start--;
    const long line = ds_text_line_of(data, size, i);
    const size_t column = i - line_start + 1;
    if (u[i] == 0)
        return ds_err_set(err, DS_ERR_FORMAT, "%s:%ld: NUL byte at byte column %zu; text files must not contain NUL",
                          name, line, column);
    return ds_err_set(err, DS_ERR_FORMAT,
                      "%s:%ld: invalid UTF-8 (byte 0x%02X at byte column %zu); save the file as UTF-8", name,
                      line, (unsigned)u[i], column);
}
