// Byte spans from untrusted files (zip entry names, pickle strings and globals) as printable text
// for error messages: a crafted name must neither drive the terminal nor flood the message.
#ifndef DS_ESCAPE_H
#define DS_ESCAPE_H

#include <stddef.h>

// Writes s[0..n) into buf with control bytes (< 0x20, 0x7f) as \xNN, cut to fit `cap` with "..."
// at the end when too long; always NUL-terminates (cap >= 8). Returns buf.
const char *ds_escape_span(const char *s, size_t n, char *buf, size_t cap);

#endif
