// Tables behind py_text.c.
#ifndef DS_PY_TEXT_INTERNAL_H
#define DS_PY_TEXT_INTERNAL_H

#include <stdint.h>

#define DS_PY_UPPER_SPECIALS 102

typedef struct ds_py_upper_special {
    int32_t cp;      // the lowercase (or titlecase) character
    int32_t up[3];   // its uppercase, 2 or 3 code points, 0-padded
} ds_py_upper_special;

// Sorted by cp.
extern const ds_py_upper_special ds_py_upper_specials[DS_PY_UPPER_SPECIALS];

#endif
