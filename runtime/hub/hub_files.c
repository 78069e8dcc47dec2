// The files each model family reads from a Hub repository (nothing else is downloaded).
#include <string.h>

#include "hub_internal.h"

// BERT (text_classification): the config, the weights, the tokenizer (vocab.txt and/or
// tokenizer.json: transformers 5 saves only the latter) and its settings.
static const char *const k_bert_required[] = {"config.json", "model.safetensors"};
static const char *const k_bert_one_of[] = {"tokenizer.json", "vocab.txt"};
static const char *const k_bert_optional[] = {"tokenizer_config.json", "special_tokens_map.json"};

// Wav2Vec2 (speech_ctc): the config, the weights (model.safetensors, else pytorch_model.bin: older
// repositories such as facebook/wav2vec2-base may have only the latter), and when present the CTC
// vocabulary (a pre-trained model has none: fine-tuning builds one) and the feature extractor's
// settings (preprocessor_config.json; transformers 5 may write processor_config.json).
static const char *const k_w2v_required[] = {"config.json"};
static const char *const k_w2v_one_of[] = {"model.safetensors", "pytorch_model.bin"};
static const char *const k_w2v_optional[] = {"vocab.json", "preprocessor_config.json", "processor_config.json",
                                             "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"};

#define LIST(a) a, (int)(sizeof a / sizeof a[0])

bool hub_family_files(const char *family, hub_file_list *out) {
    if (strcmp(family, "text_classification") == 0) {
        *out = (hub_file_list){LIST(k_bert_required), LIST(k_bert_one_of), LIST(k_bert_optional), .one_of_first = false};
        return true;
    }
    if (strcmp(family, "speech_ctc") == 0) {
        *out = (hub_file_list){LIST(k_w2v_required), LIST(k_w2v_one_of), LIST(k_w2v_optional), .one_of_first = true};
        return true;
    }
    return false;
}

const char *hub_family_of_model_type(const char *model_type) {
    if (!model_type) return NULL;
    if (strcmp(model_type, "bert") == 0) return "text_classification";
    if (strcmp(model_type, "wav2vec2") == 0) return "speech_ctc";
    return NULL;
}
