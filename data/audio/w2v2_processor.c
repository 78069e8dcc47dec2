// Reading a Wav2Vec2Processor directory in either layout (see w2v2_processor.h).
#include "w2v2_processor.h"

#include <stdio.h>
#include <string.h>

#include "../../runtime/base/check.h"
#include "json_file.h"

static ds_status load_features(const char *dir, ds_w2v2_processor *p, ds_err *err) {
    char path[4096];
    cJSON *root = NULL;
    DS_TRY(ds_json_file_read(dir, "processor_config.json", true, &root, path, sizeof path, err));
    const cJSON *nested = NULL;
    if (root) {
        nested = cJSON_GetObjectItemCaseSensitive(root, "feature_extractor");
        if (nested == NULL) nested = cJSON_GetObjectItemCaseSensitive(root, "audio_processor");
    }
    if (nested) {
        p->features_file = "processor_config.json";
        char name[4200];
        snprintf(name, sizeof name, "%s (\"feature_extractor\")", path);
        const ds_status s = ds_w2v2_feature_config_from_json(nested, name, &p->features, err);
        cJSON_Delete(root);
        return s;
    }
    cJSON_Delete(root);
    DS_TRY(ds_json_file_read(dir, "preprocessor_config.json", true, &root, path, sizeof path, err));
    DS_REQUIRE(err, root != NULL, DS_ERR_IO,
               "%s: no feature extractor settings: neither processor_config.json with \"feature_extractor\" nor "
               "preprocessor_config.json",
               dir);
    p->features_file = "preprocessor_config.json";
    const ds_status s = ds_w2v2_feature_config_from_json(root, path, &p->features, err);
    cJSON_Delete(root);
    return s;
}

ds_status ds_w2v2_processor_load(const char *dir, ds_w2v2_processor *p, ds_err *err) {
    memset(p, 0, sizeof *p);
    DS_TRY(load_features(dir, p, err));
    return ds_ctc_tokenizer_load(dir, &p->tokenizer, err);
}

void ds_w2v2_processor_free(ds_w2v2_processor *p) {
    ds_ctc_tokenizer_free(&p->tokenizer);
    memset(p, 0, sizeof *p);
}
