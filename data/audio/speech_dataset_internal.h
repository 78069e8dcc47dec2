// Shared between the speech dataset's files: the row readers call add_row for every manifest row.
#ifndef DS_SPEECH_DATASET_INTERNAL_H
#define DS_SPEECH_DATASET_INTERNAL_H

#include "speech_dataset.h"

// One manifest row: probes the audio, applies the duration filter, stores path and transcript
// (text may be NULL when unlabelled).
ds_status ds_speech_dataset_add_row(ds_speech_dataset *d, long line, const char *path, const char *text,
                                    size_t text_len, ds_err *err);

ds_status ds_speech_manifest_read_csv(ds_speech_dataset *d, const ds_speech_dataset_options *opt, bool tsv,
                                      ds_err *err);
ds_status ds_speech_manifest_read_jsonl(ds_speech_dataset *d, const ds_speech_dataset_options *opt, ds_err *err);

#endif
