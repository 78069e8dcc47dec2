// The files a training run leaves for people and tools besides checkpoints and metrics.jsonl,
// read by `downstream report` (runtime/report/):
//   config.json      the resolved config at the start of the run (ds_config_print: {"config": {...},
//                    "file", "from_file", "from_set"}), written by rank 0 before training;
//   eval_<split>.json  at the end, for dev and test (the best model's final evaluation):
//                    {"split": "dev"|"test", "examples": N, "loss": x, "metrics": {"test_accuracy": x,
//                     ...}, then the family's tables (ds_eval_result.details), each optional:
//                     "classes": [names], "per_class": [{"class": name, "precision": x, "recall": x,
//                     "f1": x, "support": n, ...any number field, e.g. "iou"}],
//                     "confusion": {"rows": "true", "columns": "predicted", "matrix": [[counts]]}};
//   samples.jsonl    at the end, sample predictions of the test split (dev without one), one JSON
//                    object a line, written by the family (task.h's write_samples), a handful per
//                    class, by kind:
//                      {"kind": "text", "text", ["text_pair"], "label", "predicted", "correct",
//                       "probabilities": {class: p}, "split", "index", "line"}
//                      {"kind": "image", "image": path, "mask": path, "prediction": path (PNG files,
//                       relative to the run directory), "label"/"metrics" optional}
//                      {"kind": "audio", "audio": path, "reference": text, "hypothesis": text,
//                       "wer": x optional}
// Each is written atomically (temporary file + rename).
#ifndef DS_RUN_FILES_H
#define DS_RUN_FILES_H

#include <stddef.h>

#include "../base/arena.h"
#include "../base/context.h"
#include "../config/config.h"
#include "../metrics/eval_result.h"
#include "../tasks/task.h"

// <dir>/config.json from the resolved config.
ds_status ds_run_files_write_config(const ds_config *cfg, const char *dir, ds_err *err);

// <dir>/eval_dev.json and eval_test.json (for the results given, NULL: none), and samples.jsonl
// from the family's write_samples (when it has one) on test, else dev. The model must be on its
// device with an arena for `batch` examples.
ds_status ds_run_files_write_end(ds_context *ctx, ds_task *t, const char *dir, const ds_eval_result *dev,
                                 const ds_eval_result *test, size_t batch, ds_arena *arena);

#endif
