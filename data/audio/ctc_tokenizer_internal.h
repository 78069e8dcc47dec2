// Lookups shared by the tokenizer's loading, encoding and decoding files.
#ifndef DS_CTC_TOKENIZER_INTERNAL_H
#define DS_CTC_TOKENIZER_INTERNAL_H

#include "ctc_tokenizer.h"

// vocab.json's id of a token, or -1.
int32_t ds_ctc_vocab_lookup(const ds_ctc_tokenizer *tok, const char *token);
// The added tokens' id of a token, or -1.
int32_t ds_ctc_added_lookup(const ds_ctc_tokenizer *tok, const char *token);

#endif
