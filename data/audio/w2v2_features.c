// Wav2Vec2FeatureExtractor settings and normalisation (see w2v2_features.h).
#include "w2v2_features.h"

#include <math.h>
#include <string.h>

#include "../../runtime/base/check.h"

ds_w2v2_feature_config ds_w2v2_feature_defaults(void) {
    return (ds_w2v2_feature_config){
        .sampling_rate = 16000, .do_normalize = true, .padding_value = 0.0f, .return_attention_mask = false,
        .feature_size = 1};
}

static ds_status get_bool(const cJSON *obj, const char *key, const char *name, bool *out, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL || cJSON_IsNull(v)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsBool(v), DS_ERR_FORMAT, "%s: \"%s\" must be true or false", name, key);
    *out = cJSON_IsTrue(v);
    return DS_OK;
}

static ds_status get_int(const cJSON *obj, const char *key, const char *name, int *out, ds_err *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL || cJSON_IsNull(v)) return DS_OK;
    DS_REQUIRE(err, cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && v->valuedouble >= 1 &&
                        v->valuedouble <= 1e7,
               DS_ERR_FORMAT, "%s: \"%s\" must be a positive integer", name, key);
    *out = (int)v->valuedouble;
    return DS_OK;
}

ds_status ds_w2v2_feature_config_from_json(const cJSON *obj, const char *name, ds_w2v2_feature_config *c,
                                           ds_err *err) {
    *c = ds_w2v2_feature_defaults();
    DS_REQUIRE(err, cJSON_IsObject(obj), DS_ERR_FORMAT, "%s: the feature extractor settings must be a JSON object",
               name);
    DS_TRY(get_int(obj, "sampling_rate", name, &c->sampling_rate, err));
    DS_TRY(get_int(obj, "feature_size", name, &c->feature_size, err));
    DS_TRY(get_bool(obj, "do_normalize", name, &c->do_normalize, err));
    DS_TRY(get_bool(obj, "return_attention_mask", name, &c->return_attention_mask, err));
    const cJSON *pv = cJSON_GetObjectItemCaseSensitive(obj, "padding_value");
    if (pv != NULL && !cJSON_IsNull(pv)) {
        DS_REQUIRE(err, cJSON_IsNumber(pv) && isfinite(pv->valuedouble), DS_ERR_FORMAT,
                   "%s: \"padding_value\" must be a number", name);
        c->padding_value = (float)pv->valuedouble;
    }
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(obj, "padding_side");
    if (side != NULL && !cJSON_IsNull(side)) {
        DS_REQUIRE(err, cJSON_IsString(side), DS_ERR_FORMAT, "%s: \"padding_side\" must be a string", name);
        DS_REQUIRE(err, strcmp(side->valuestring, "right") == 0, DS_ERR_UNSUPPORTED,
                   "%s: padding_side \"%s\" is not supported (only \"right\")", name, side->valuestring);
    }
    DS_REQUIRE(err, c->feature_size == 1, DS_ERR_UNSUPPORTED,
               "%s: feature_size %d is not supported (a raw-waveform Wav2Vec2 extractor has 1)", name, c->feature_size);
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "feature_extractor_type");
    if (cJSON_IsString(type))
        DS_REQUIRE(err, strcmp(type->valuestring, "Wav2Vec2FeatureExtractor") == 0, DS_ERR_UNSUPPORTED,
                   "%s: feature_extractor_type \"%s\" is not supported (only Wav2Vec2FeatureExtractor)", name,
                   type->valuestring);
    return DS_OK;
}

ds_status ds_w2v2_check_sampling_rate(const ds_w2v2_feature_config *c, int rate, const char *what, ds_err *err) {
    DS_REQUIRE(err, rate == c->sampling_rate, DS_ERR_INVALID_ARG,
               "%s: audio at %d Hz, but the feature extractor was trained at %d Hz (resample it to %d Hz)", what, rate,
               c->sampling_rate, c->sampling_rate);
    return DS_OK;
}

void ds_w2v2_normalize(float *x, int64_t n) {
    if (n <= 0) return;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += x[i];
    const double mean = sum / (double)n;
    double ss = 0.0;  // two passes: the variance without cancellation
    for (int64_t i = 0; i < n; i++) {
        const double d = x[i] - mean;
        ss += d * d;
    }
    const double inv = 1.0 / sqrt(ss / (double)n + DS_W2V2_NORM_EPS);
    for (int64_t i = 0; i < n; i++) x[i] = (float)((x[i] - mean) * inv);
}
