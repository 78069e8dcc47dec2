// Test helpers for the Wav2Vec2 model (tests/cpu/test_w2v_*.c): the fixture configs
// (tests/fixtures/wav2vec2/<case>/config.json, HF's config.json plus "use_attention_mask") read
// into a ds_w2v_config, weights loaded by checkpoint name, and the weight formula of
// scripts/fixtures/wav2vec2.py.
#ifndef DS_TEST_W2V_FIXTURE_H
#define DS_TEST_W2V_FIXTURE_H

#include <stdbool.h>

#include "../models/wav2vec2/w2v.h"
#include "test_util.h"

// Reads <fixtures>/wav2vec2/<case_dir>/config.json; records a failed check when it cannot.
bool ds_w2v_test_config(ds_test *t, const char *case_dir, ds_w2v_config *cfg);

// Copies every tensor of the safetensors file at `rel` (under tests/fixtures) into the model's
// host parameters through ds_w2v_param_index, and checks that each parameter was filled exactly
// once and that the file has no tensor the model lacks.
bool ds_w2v_test_load(ds_test *t, ds_w2v_model *m, const char *rel);

// Fills every parameter with the formula of scripts/fixtures/wav2vec2.py (by name and index).
void ds_w2v_test_formula_fill(ds_w2v_model *m);

#endif
