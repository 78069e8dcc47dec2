// The few Python 3 `str` operations that Hugging Face's speech pipeline applies to transcripts
// (str.upper, str.lower, str.strip, str.isspace, re's \s), on Unicode code points, so that the C
// side transforms text exactly as the reference does:
// - upper: full case mapping, e.g. "ß" -> "SS" (SpecialCasing.txt's unconditional entries, the
//   102 that Python 3.11 applies, in py_text_upper_table.c), else utf8proc's simple mapping
//   (identical to Python 3.11's for every other code point: checked over all of Unicode).
// - lower: simple mapping, "İ" -> "i̇", and Python's Final_Sigma rule for "Σ" (-> "ς" after a cased
//   letter when no cased letter follows, case-ignorable characters skipped both ways). The
//   Cased / Case_Ignorable properties come from utf8proc's categories plus Python's extra members
//   (checked equal to Python 3.11's behaviour for every code point).
// - whitespace: exactly the 29 code points of str.isspace() (Python 3.11).
// Text crosses the API as UTF-8; invalid UTF-8 is DS_ERR_INVALID_ARG naming the byte offset.
#ifndef DS_PY_TEXT_H
#define DS_PY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../runtime/base/status.h"

// A growable array of code points (zero-initialise; ds_cps_free releases it).
typedef struct ds_cps {
    int32_t *v;  // (n) host
    size_t n, cap;
} ds_cps;

// A growable UTF-8 string, always NUL-terminated once non-empty (zero-initialise; ds_str_free).
typedef struct ds_str {
    char *v;  // (n + 1) host
    size_t n, cap;
} ds_str;

void ds_cps_free(ds_cps *c);
void ds_str_free(ds_str *s);
ds_status ds_cps_push(ds_cps *c, int32_t cp, ds_err *err);
ds_status ds_str_append(ds_str *s, const char *bytes, size_t n, ds_err *err);
ds_status ds_str_append_cp(ds_str *s, int32_t cp, ds_err *err);
void ds_str_clear(ds_str *s);  // n = 0, keeps the buffer ("" afterwards)

// Replaces *out with the code points of text[0, len). `what` names the text in messages.
ds_status ds_utf8_to_cps(const char *text, size_t len, const char *what, ds_cps *out, ds_err *err);
// Appends the UTF-8 of cps[0, n) to *out.
ds_status ds_cps_append_utf8(const int32_t *cps, size_t n, ds_str *out, ds_err *err);

// str.isspace() of one character.
bool ds_py_isspace(int32_t cp);
// Writes str.upper() of one character to out (1 to 3 code points); returns the count.
int ds_py_upper_char(int32_t cp, int32_t out[3]);
// out = str.upper(in) / str.lower(in); out must not alias in.
ds_status ds_py_upper(const int32_t *in, size_t n, ds_cps *out, ds_err *err);
ds_status ds_py_lower(const int32_t *in, size_t n, ds_cps *out, ds_err *err);
// str.strip() (no argument): the [*begin, *end) range of in[0, n) without the whitespace around it.
void ds_py_strip_range(const int32_t *in, size_t n, size_t *begin, size_t *end);

#endif
