// A Wav2Vec2Processor directory: the feature extractor's settings and the CTC tokenizer, in either
// of the layouts transformers reads:
//   - the hub layout (facebook/wav2vec2-base-960h, transformers 4): preprocessor_config.json,
//     tokenizer_config.json, vocab.json, special_tokens_map.json;
//   - the transformers 5 layout (Wav2Vec2Processor.save_pretrained in 5.x): processor_config.json
//     with a nested "feature_extractor" object, tokenizer_config.json whose added_tokens_decoder
//     lists the special tokens, vocab.json, and no special_tokens_map.json.
// As FeatureExtractionMixin.get_feature_extractor_dict: processor_config.json's "feature_extractor"
// (or "audio_processor") object wins when present, else preprocessor_config.json.
#ifndef DS_W2V2_PROCESSOR_H
#define DS_W2V2_PROCESSOR_H

#include "../../runtime/base/status.h"
#include "ctc_tokenizer.h"
#include "w2v2_features.h"

typedef struct ds_w2v2_processor {
    ds_w2v2_feature_config features;
    ds_ctc_tokenizer tokenizer;
    const char *features_file;  // "processor_config.json" or "preprocessor_config.json" (static)
} ds_w2v2_processor;

// Loads dir. Errors name the file (and key); a directory with neither feature-extractor file is
// DS_ERR_IO naming both.
ds_status ds_w2v2_processor_load(const char *dir, ds_w2v2_processor *p, ds_err *err);
void ds_w2v2_processor_free(ds_w2v2_processor *p);

#endif
