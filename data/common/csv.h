// A CSV/TSV reader (RFC 4180) over a memory buffer or a whole file, record by record.
//
// What it accepts, and how that compares with Python's csv module (the reference the tests hold
// it to, with the file opened as open(path, encoding="utf-8-sig", newline="")):
// - Records end at LF, CRLF or a lone CR; the last record may lack a line end.
// - A field that starts with the quote character is quoted: it may hold delimiters, line ends
//   (kept byte for byte, CRLF stays CRLF) and doubled quotes (read as one quote).
// - A UTF-8 byte-order mark at the start is skipped.
// - Blank lines (nothing between two line ends) are skipped; Python returns [] for them.
// - The delimiter is configurable: ',' for CSV, '\t' for TSV.
// - TSV decision: quotes ARE honoured in TSV by default, as Python's csv.reader(delimiter='\t')
//   and pandas do, so a file written by csv.writer(delimiter='\t') reads back unchanged. Raw
//   TSVs whose text holds stray quotes (GLUE's, read by HF's legacy processors with
//   quotechar=None) need quote = 0, which makes quotes ordinary characters.
// Stricter than Python (these are errors here, DS_ERR_FORMAT naming the line, because each one
// means the file was written without proper quoting and the fields would be silently wrong):
// - a quoted field still open at the end of the file (Python: only with strict=True);
// - a quote inside an unquoted field, e.g. `ab"c` (Python keeps the quote);
// - text after a closing quote, e.g. `"ab"c` (Python: only with strict=True);
// - invalid UTF-8 or a NUL byte anywhere in the file (Python: UnicodeDecodeError).
// Lines are physical lines counted from 1 at the start of the file (the BOM sits on line 1).
#ifndef DS_CSV_H
#define DS_CSV_H

#include <stddef.h>

#include "../../runtime/base/status.h"

typedef struct ds_csv_options {
    char delimiter;  // ',' for CSV, '\t' for TSV; any byte but the quote, CR, LF or NUL
    char quote;      // '"' (RFC 4180 quoting, the default for both CSV and TSV); 0 = no quoting
} ds_csv_options;

// {',', '"'}
ds_csv_options ds_csv_options_csv(void);
// {'\t', '"'}: quotes honoured, see the TSV decision above.
ds_csv_options ds_csv_options_tsv(void);

// One record; everything it points to belongs to the reader and stays valid until the next
// ds_csv_next or ds_csv_close.
typedef struct ds_csv_record {
    size_t count;               // fields in the record, >= 1
    const char *const *fields;  // (count) NUL-terminated UTF-8, quotes removed and undoubled, host
    const size_t *lengths;      // (count) bytes of each field, excluding the NUL
    long line;                  // physical line (1-based) where the record starts
} ds_csv_record;

typedef struct ds_csv_reader {
    ds_csv_options opt;
    char *name;        // file path or caller's name for messages (owned copy)
    char *owned;       // file contents when opened from a file, else NULL
    const char *data;  // (size) host: the input, BOM included
    size_t size;
    size_t pos;        // next unread byte
    long line;         // physical line of data[pos]
    // The current record: fields copied (unquoted) into scratch, each NUL-terminated.
    char *scratch;      // (scratch_cap) host
    size_t scratch_len, scratch_cap;
    size_t *starts;     // (fields_cap) offset of each field in scratch
    size_t *lengths;    // (fields_cap)
    const char **ptrs;  // (fields_cap) pointers into scratch, set when a record is complete
    size_t fields_cap;
} ds_csv_reader;

// Reads over data[0, size) (host, not copied: it must outlive the reader). `name` appears in
// messages ("train.csv:12: ..."). Checks the UTF-8 of the whole buffer first.
ds_status ds_csv_open_memory(ds_csv_reader *r, const char *data, size_t size, const char *name,
                             const ds_csv_options *opt, ds_err *err);

// Reads the whole file at path into memory and opens it as above.
ds_status ds_csv_open_file(ds_csv_reader *r, const char *path, const ds_csv_options *opt, ds_err *err);

// Reads the next record into *rec; at the end of the input sets *got = 0 and leaves rec alone.
// A malformed record is DS_ERR_FORMAT with "<name>:<line>: ..."; the reader cannot continue
// after one (the record boundaries that follow are unknown).
ds_status ds_csv_next(ds_csv_reader *r, ds_csv_record *rec, int *got, ds_err *err);

void ds_csv_close(ds_csv_reader *r);

#endif
