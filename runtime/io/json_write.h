// Writing JSON by hand where cJSON's tree would be overkill (one line per prediction, the printed
// config): strings escaped as JSON requires, and numbers that read back to the same float.
#ifndef DS_JSON_WRITE_H
#define DS_JSON_WRITE_H

#include <stdio.h>

// s as a JSON string: quotes, backslashes and control characters escaped; UTF-8 (checked by the
// readers) passes through.
void ds_json_write_string(FILE *out, const char *s);

// v with 9 significant digits (%.9g round-trips every float32); JSON has no NaN or infinity, so a
// non-finite value is written as null.
void ds_json_write_float(FILE *out, double v);

#endif
